#include "core/json.h"

#include <cstdio>
#include <cstdlib>
#include <set>

#include "core/error.h"

namespace sr {

namespace {

class Parser {
public:
    Parser(const std::string& s, const std::string& what) : s_(s), what_(what) {}

    Json document() {
        Json v = value(0);
        skip_space();
        if (pos_ != s_.size()) error("unexpected text after the JSON value");
        return v;
    }

private:
    static constexpr int kMaxDepth = 64;
    const std::string& s_;
    const std::string& what_;
    size_t pos_ = 0;

    [[noreturn]] void error(const std::string& msg) const { fail(what_, ": invalid JSON at byte ", pos_, ": ", msg); }

    void skip_space() {
        while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
    }
    bool consume(char c) {
        skip_space();
        if (pos_ < s_.size() && s_[pos_] == c) {
            ++pos_;
            return true;
        }
        return false;
    }
    void expect(char c) {
        if (!consume(c)) error(std::string("expected '") + c + "'");
    }
    bool literal(const char* word) {
        const std::string w(word);
        if (s_.compare(pos_, w.size(), w) != 0) return false;
        pos_ += w.size();
        return true;
    }

    Json value(int depth) {
        if (depth > kMaxDepth) error("nested too deeply");
        skip_space();
        if (pos_ >= s_.size()) error("unexpected end");
        Json v;
        const char c = s_[pos_];
        if (c == '{') return object(depth);
        if (c == '[') return array(depth);
        if (c == '"') {
            v.kind = Json::Kind::String;
            v.text = string();
        } else if (literal("true")) {
            v.kind = Json::Kind::Bool;
            v.boolean = true;
        } else if (literal("false")) {
            v.kind = Json::Kind::Bool;
        } else if (literal("null")) {
            v.kind = Json::Kind::Null;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            v.kind = Json::Kind::Number;
            const size_t start = pos_;
            if (s_[pos_] == '-') ++pos_;
            while (pos_ < s_.size() && std::string("0123456789.eE+-").find(s_[pos_]) != std::string::npos) ++pos_;
            v.text = s_.substr(start, pos_ - start);
            char* end = nullptr;
            v.number = std::strtod(v.text.c_str(), &end);
            if (end != v.text.c_str() + v.text.size()) error("malformed number '" + v.text + "'");
        } else {
            error(std::string("unexpected character '") + c + "'");
        }
        return v;
    }

    Json object(int depth) {
        Json v;
        v.kind = Json::Kind::Object;
        expect('{');
        std::set<std::string> keys;
        if (consume('}')) return v;
        do {
            skip_space();
            if (pos_ >= s_.size() || s_[pos_] != '"') error("expected a string key");
            std::string key = string();
            if (!keys.insert(key).second) error("duplicate key \"" + key + "\"");
            expect(':');
            v.keys.push_back(std::move(key));
            v.items.push_back(value(depth + 1));
        } while (consume(','));
        expect('}');
        return v;
    }

    Json array(int depth) {
        Json v;
        v.kind = Json::Kind::Array;
        expect('[');
        if (consume(']')) return v;
        do v.items.push_back(value(depth + 1));
        while (consume(','));
        expect(']');
        return v;
    }

    std::string string() {
        ++pos_;  // opening quote
        std::string out;
        while (true) {
            if (pos_ >= s_.size()) error("unterminated string");
            const char c = s_[pos_++];
            if (c == '"') return out;
            if (static_cast<unsigned char>(c) < 0x20) error("control character in string");
            if (c != '\\') {
                out += c;
                continue;
            }
            if (pos_ >= s_.size()) error("unterminated escape");
            const char e = s_[pos_++];
            switch (e) {
                case '"': out += '"'; break;
                case '\\': out += '\\'; break;
                case '/': out += '/'; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'n': out += '\n'; break;
                case 'r': out += '\r'; break;
                case 't': out += '\t'; break;
                case 'u': out += unicode_escape(); break;
                default: error(std::string("invalid escape '\\") + e + "'");
            }
        }
    }

    // \uXXXX (with surrogate pairs) as UTF-8.
    std::string unicode_escape() {
        auto hex4 = [&]() {
            if (pos_ + 4 > s_.size()) error("short \\u escape");
            uint32_t v = 0;
            for (int i = 0; i < 4; ++i) {
                const char h = s_[pos_++];
                v <<= 4;
                if (h >= '0' && h <= '9') v |= uint32_t(h - '0');
                else if (h >= 'a' && h <= 'f') v |= uint32_t(h - 'a' + 10);
                else if (h >= 'A' && h <= 'F') v |= uint32_t(h - 'A' + 10);
                else error("bad hex digit in \\u escape");
            }
            return v;
        };
        uint32_t cp = hex4();
        if (cp >= 0xD800 && cp < 0xDC00) {
            if (!literal("\\u")) error("unpaired surrogate");
            const uint32_t low = hex4();
            if (low < 0xDC00 || low >= 0xE000) error("bad low surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        }
        std::string out;
        if (cp < 0x80) {
            out += char(cp);
        } else if (cp < 0x800) {
            out += char(0xC0 | (cp >> 6));
            out += char(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out += char(0xE0 | (cp >> 12));
            out += char(0x80 | ((cp >> 6) & 0x3F));
            out += char(0x80 | (cp & 0x3F));
        } else {
            out += char(0xF0 | (cp >> 18));
            out += char(0x80 | ((cp >> 12) & 0x3F));
            out += char(0x80 | ((cp >> 6) & 0x3F));
            out += char(0x80 | (cp & 0x3F));
        }
        return out;
    }
};

}  // namespace

Json Json::parse(const std::string& source, const std::string& what) { return Parser(source, what).document(); }

const Json* Json::find(const std::string& key) const {
    for (size_t i = 0; i < keys.size(); ++i)
        if (keys[i] == key) return &items[i];
    return nullptr;
}

std::string json_quote(const std::string& text) {
    std::string out = "\"";
    for (const char c : text) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    out += buf;
                } else {
                    out += c;
                }
        }
    }
    return out + "\"";
}

}  // namespace sr
