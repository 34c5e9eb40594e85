#include "train/config.h"

#include <cstdlib>
#include <vector>

#include "core/error.h"
#include "core/file.h"

namespace sr {

namespace {

struct Line {
    int number;      // 1-based, for messages
    int indent;      // leading spaces
    std::string text;  // without indentation and comment
};

// Removes a trailing comment: '#' at the start or after whitespace, outside quotes.
std::string strip_comment(const std::string& s) {
    char quote = 0;
    for (size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (quote) {
            if (c == quote) quote = 0;
        } else if (c == '"' || c == '\'') {
            quote = c;
        } else if (c == '#' && (i == 0 || s[i - 1] == ' ' || s[i - 1] == '\t')) {
            return s.substr(0, i);
        }
    }
    return s;
}

std::string trim(const std::string& s) {
    const size_t a = s.find_first_not_of(" \t\r");
    if (a == std::string::npos) return "";
    const size_t b = s.find_last_not_of(" \t\r");
    return s.substr(a, b - a + 1);
}

class YamlParser {
public:
    YamlParser(const std::string& text, const std::string& what) : what_(what) {
        size_t start = 0;
        int number = 0;
        while (start <= text.size()) {
            const size_t end = text.find('\n', start);
            const std::string raw = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
            ++number;
            const std::string content = strip_comment(raw);
            const size_t first = content.find_first_not_of(' ');
            if (first != std::string::npos && content[first] == '\t') error(number, "tabs are not allowed for indentation");
            const std::string body = trim(content);
            if (!body.empty() && body != "---") lines_.push_back({number, static_cast<int>(first), body});
            if (end == std::string::npos) break;
            start = end + 1;
        }
    }

    Json document() {
        if (lines_.empty()) {
            Json empty;
            empty.kind = Json::Kind::Object;
            return empty;
        }
        Json root = block(lines_[0].indent);
        if (pos_ != lines_.size()) error(lines_[pos_].number, "unexpected indentation");
        return root;
    }

private:
    std::string what_;
    std::vector<Line> lines_;
    size_t pos_ = 0;

    [[noreturn]] void error(int line, const std::string& msg) const { fail(what_, ":", line, ": ", msg); }

    Json block(int indent) {
        return lines_[pos_].text.rfind("- ", 0) == 0 || lines_[pos_].text == "-" ? list(indent) : mapping(indent);
    }

    Json mapping(int indent) {
        Json out;
        out.kind = Json::Kind::Object;
        while (pos_ < lines_.size() && lines_[pos_].indent == indent) {
            const Line& line = lines_[pos_];
            const size_t colon = key_colon(line);
            const std::string key = unquote(trim(line.text.substr(0, colon)));
            if (out.find(key)) error(line.number, "key '" + key + "' appears twice");
            const std::string rest = trim(line.text.substr(colon + 1));
            ++pos_;
            Json value;
            if (!rest.empty()) {
                value = scalar(rest, line.number);
            } else if (pos_ < lines_.size() && lines_[pos_].indent > indent) {
                value = block(lines_[pos_].indent);
            } else if (pos_ < lines_.size() && lines_[pos_].indent == indent && lines_[pos_].text.rfind("- ", 0) == 0) {
                value = list(indent);  // a list may sit at its key's indentation
            }
            out.members.emplace_back(key, std::move(value));
        }
        if (pos_ < lines_.size() && lines_[pos_].indent > indent) error(lines_[pos_].number, "unexpected indentation");
        return out;
    }

    Json list(int indent) {
        Json out;
        out.kind = Json::Kind::Array;
        while (pos_ < lines_.size() && lines_[pos_].indent == indent &&
               (lines_[pos_].text.rfind("- ", 0) == 0 || lines_[pos_].text == "-")) {
            Line& line = lines_[pos_];
            const std::string rest = line.text == "-" ? "" : trim(line.text.substr(2));
            if (rest.empty()) {
                ++pos_;
                out.items.push_back(pos_ < lines_.size() && lines_[pos_].indent > indent ? block(lines_[pos_].indent) : Json());
            } else if (has_key(rest)) {
                // "- key: value" starts a mapping whose other keys are indented to line up with key.
                line.text = rest;
                line.indent = indent + 2;
                out.items.push_back(mapping(indent + 2));
            } else {
                ++pos_;
                out.items.push_back(scalar(rest, line.number));
            }
        }
        return out;
    }

    // Where "key:" ends: the first ": " or a trailing ':' outside quotes and brackets.
    size_t key_colon(const Line& line) const {
        const size_t c = find_key_colon(line.text);
        if (c == std::string::npos) error(line.number, "expected 'key: value', got '" + line.text + "'");
        return c;
    }
    static size_t find_key_colon(const std::string& s) {
        char quote = 0;
        for (size_t i = 0; i < s.size(); ++i) {
            const char c = s[i];
            if (quote) {
                if (c == quote) quote = 0;
            } else if (c == '"' || c == '\'') {
                quote = c;
            } else if (c == '[' || c == '{') {
                return std::string::npos;
            } else if (c == ':' && (i + 1 == s.size() || s[i + 1] == ' ')) {
                return i;
            }
        }
        return std::string::npos;
    }
    static bool has_key(const std::string& s) { return find_key_colon(s) != std::string::npos; }

    static std::string unquote(const std::string& s) {
        if (s.size() >= 2 && (s.front() == '"' || s.front() == '\'') && s.back() == s.front()) return s.substr(1, s.size() - 2);
        return s;
    }

    Json scalar(const std::string& text, int line) const {
        // BasicSR writes `lr: !!float 1e-4` (PyYAML reads 1e-4 alone as a string); numbers are
        // numbers here, so the tag is only checked and dropped.
        std::string s = text;
        if (s.rfind("!!", 0) == 0) {
            const size_t space = s.find(' ');
            const std::string tag = s.substr(0, space);
            if ((tag != "!!float" && tag != "!!int") || space == std::string::npos) error(line, "unsupported YAML tag in '" + s + "'");
            s = trim(s.substr(space));
            Json v = scalar(s, line);
            if (!v.is(Json::Kind::Number)) error(line, tag + " needs a number, got '" + s + "'");
            return v;
        }
        Json v;
        if (s.front() == '[') return inline_list(s, line);
        if (s.front() == '{' || s.front() == '&' || s.front() == '*' || s.front() == '|' || s.front() == '>')
            error(line, "unsupported YAML ('" + s + "'): srforge reads mappings, lists and scalars");
        if (s.front() == '"' || s.front() == '\'') {
            if (s.size() < 2 || s.back() != s.front()) error(line, "unterminated string " + s);
            v.kind = Json::Kind::String;
            v.text = s.substr(1, s.size() - 2);
            return v;
        }
        if (s == "true" || s == "True" || s == "false" || s == "False") {
            v.kind = Json::Kind::Bool;
            v.boolean = s[0] == 't' || s[0] == 'T';
            return v;
        }
        if (s == "null" || s == "~" || s == "None") return v;
        char* end = nullptr;
        const double number = std::strtod(s.c_str(), &end);
        if (end == s.c_str() + s.size()) {
            v.kind = Json::Kind::Number;
            v.number = number;
            v.text = s;
            return v;
        }
        v.kind = Json::Kind::String;
        v.text = s;
        return v;
    }

    Json inline_list(const std::string& s, int line) const {
        if (s.back() != ']') error(line, "unterminated list " + s);
        Json out;
        out.kind = Json::Kind::Array;
        const std::string inner = trim(s.substr(1, s.size() - 2));
        if (inner.empty()) return out;
        int depth = 0;
        size_t start = 0;
        for (size_t i = 0; i <= inner.size(); ++i) {
            if (i < inner.size() && inner[i] == '[') ++depth;
            if (i < inner.size() && inner[i] == ']') --depth;
            if (i == inner.size() || (inner[i] == ',' && depth == 0)) {
                const std::string item = trim(inner.substr(start, i - start));
                if (item.empty()) error(line, "empty item in list " + s);
                out.items.push_back(scalar(item, line));
                start = i + 1;
            }
        }
        return out;
    }
};

}  // namespace

Json parse_yaml(const std::string& text, const std::string& what) { return YamlParser(text, what).document(); }

Json read_yaml(const std::string& path) { return parse_yaml(read_file(path), path); }

const Json* config_find(const Json& root, const std::string& path) {
    const Json* node = &root;
    size_t start = 0;
    while (true) {
        const size_t dot = path.find('.', start);
        const std::string key = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        if (!node->is(Json::Kind::Object)) return nullptr;
        node = node->find(key);
        if (!node) return nullptr;
        if (dot == std::string::npos) return node;
        start = dot + 1;
    }
}

double config_number(const Json& root, const std::string& path, double fallback) {
    const Json* v = config_find(root, path);
    if (!v || v->is(Json::Kind::Null)) return fallback;
    SR_CHECK(v->is(Json::Kind::Number), "config: ", path, " must be a number");
    return v->number;
}

std::string config_text(const Json& root, const std::string& path, const std::string& fallback) {
    const Json* v = config_find(root, path);
    if (!v || v->is(Json::Kind::Null)) return fallback;
    SR_CHECK(v->is(Json::Kind::String) || v->is(Json::Kind::Number), "config: ", path, " must be text");
    return v->text;
}

bool config_flag(const Json& root, const std::string& path, bool fallback) {
    const Json* v = config_find(root, path);
    if (!v || v->is(Json::Kind::Null)) return fallback;
    SR_CHECK(v->is(Json::Kind::Bool), "config: ", path, " must be true or false");
    return v->boolean;
}

}  // namespace sr
