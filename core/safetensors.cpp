#include "core/safetensors.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cstring>
#include <set>
#include <sstream>

#include "core/file.h"
#include "core/half.h"
#include "core/json.h"

namespace sr {

static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian; so must the host be");

namespace {

constexpr uint64_t kMaxHeaderBytes = 100u << 20;  // as the reference implementation

struct StoredType {
    const char* name;
    size_t bytes;   // per element in the file
    DType dtype;    // what it is read into
};
constexpr StoredType kStoredTypes[] = {
    {"F32", 4, DType::F32}, {"F64", 8, DType::F64}, {"F16", 2, DType::F32}, {"BF16", 2, DType::F32}, {"U8", 1, DType::U8},
    {"I8", 1, DType::I8},   {"I16", 2, DType::I16}, {"I32", 4, DType::I32}, {"I64", 8, DType::I64},   {"BOOL", 1, DType::Bool},
};

struct Entry {
    std::string name;
    const StoredType* type = nullptr;
    Shape shape;
    uint64_t begin = 0, end = 0;
};

uint64_t parse_count(const Json& v, const std::string& what, const std::string& field) {
    SR_CHECK(v.is(Json::Kind::Number), what, ": ", field, " must be a non-negative integer");
    uint64_t out = 0;
    const char* first = v.text.data();
    const char* last = first + v.text.size();
    const auto [ptr, ec] = std::from_chars(first, last, out);
    SR_CHECK(ec == std::errc() && ptr == last, what, ": ", field, " must be a non-negative integer, got ", v.text);
    return out;
}

Entry parse_entry(const std::string& name, const Json& v, uint64_t data_size, const std::string& what) {
    const std::string where = what + ": tensor '" + name + "'";
    SR_CHECK(!name.empty(), what, ": empty tensor name");
    SR_CHECK(v.is(Json::Kind::Object), where, " must be described by an object");
    Entry e;
    e.name = name;
    const Json* dtype = v.find("dtype");
    const Json* shape = v.find("shape");
    const Json* offsets = v.find("data_offsets");
    SR_CHECK(dtype && shape && offsets && v.keys.size() == 3, where,
             " must have exactly the fields dtype, shape and data_offsets");
    SR_CHECK(dtype->is(Json::Kind::String), where, ": dtype must be a string");
    for (const StoredType& t : kStoredTypes)
        if (dtype->text == t.name) e.type = &t;
    SR_CHECK(e.type, where, " has dtype ", dtype->text, "; srforge reads F32, F64, F16, BF16, U8, I8, I16, I32, I64 and BOOL");
    SR_CHECK(shape->is(Json::Kind::Array) && shape->items.size() <= 16, where, ": shape must be an array of at most 16 sizes");
    // The element count, saturated just past the data size so that it never overflows.
    uint64_t count = 1;
    bool empty = false;
    for (const Json& d : shape->items) {
        const uint64_t n = parse_count(d, where, "each shape entry");
        SR_CHECK(n <= (uint64_t(1) << 62), where, ": shape size ", n, " is too large");
        if (n == 0) empty = true;
        else count = count > data_size / n ? data_size + 1 : count * n;
        e.shape.push_back(static_cast<int64_t>(n));
    }
    if (empty) count = 0;
    SR_CHECK(offsets->is(Json::Kind::Array) && offsets->items.size() == 2, where, ": data_offsets must be [begin, end]");
    e.begin = parse_count(offsets->items[0], where, "data_offsets");
    e.end = parse_count(offsets->items[1], where, "data_offsets");
    SR_CHECK(e.begin <= e.end && e.end <= data_size, where, ": data_offsets [", e.begin, ", ", e.end,
             "] fall outside the ", data_size, " data bytes");
    SR_CHECK(count <= data_size && count * e.type->bytes == e.end - e.begin, where, ": shape ", e.shape, " of ",
             e.type->name, " does not match data_offsets spanning ", e.end - e.begin, " bytes");
    return e;
}

Tensor decode(const Entry& e, const char* data) {
    Tensor t = Tensor::empty(e.shape, e.type->dtype, Device::cpu());
    const int64_t n = t.numel();
    const char* src = data + e.begin;
    if (std::string(e.type->name) == "F16" || std::string(e.type->name) == "BF16") {
        const bool half = std::string(e.type->name) == "F16";
        float* dst = t.data<float>();
        for (int64_t i = 0; i < n; ++i) {
            uint16_t raw;
            std::memcpy(&raw, src + 2 * i, 2);
            dst[i] = half ? half_to_float(raw) : bfloat16_to_float(raw);
        }
    } else if (e.type->dtype == DType::Bool) {
        bool* dst = t.data<bool>();  // any nonzero byte is true; a C++ bool may only hold 0 or 1
        for (int64_t i = 0; i < n; ++i) dst[i] = src[i] != 0;
    } else if (n > 0) {
        std::memcpy(t.raw_data(), src, e.end - e.begin);
    }
    return t;
}

}  // namespace

const Tensor* SafetensorsFile::find(const std::string& name) const {
    for (const auto& [k, t] : tensors)
        if (k == name) return &t;
    return nullptr;
}

const Tensor& SafetensorsFile::at(const std::string& name) const {
    if (const Tensor* t = find(name)) return *t;
    std::string keys;
    for (size_t i = 0; i < tensors.size() && i < 8; ++i) keys += (i ? ", " : "") + tensors[i].first;
    if (tensors.size() > 8) keys += ", ...";
    fail("safetensors: no tensor '", name, "' (the file has: ", keys.empty() ? "none" : keys, ")");
}

SafetensorsFile parse_safetensors(const std::string& bytes, const std::string& what) {
    SR_CHECK(bytes.size() >= 8, what, ": not a safetensors file (", bytes.size(), " bytes; the header length alone is 8)");
    uint64_t header_len;
    std::memcpy(&header_len, bytes.data(), 8);
    SR_CHECK(header_len <= bytes.size() - 8, what, ": header length ", header_len, " exceeds the ", bytes.size() - 8,
             " bytes that follow it (truncated or not a safetensors file)");
    SR_CHECK(header_len <= kMaxHeaderBytes, what, ": header length ", header_len, " exceeds the 100 MiB limit");
    const Json header = Json::parse(bytes.substr(8, header_len), what + " header");
    SR_CHECK(header.is(Json::Kind::Object), what, ": header must be a JSON object");
    const uint64_t data_size = bytes.size() - 8 - header_len;

    SafetensorsFile file;
    std::vector<Entry> entries;
    for (size_t i = 0; i < header.keys.size(); ++i) {
        const std::string& key = header.keys[i];
        const Json& v = header.items[i];
        if (key == "__metadata__") {
            SR_CHECK(v.is(Json::Kind::Object), what, ": __metadata__ must be an object of strings");
            for (size_t j = 0; j < v.keys.size(); ++j) {
                SR_CHECK(v.items[j].is(Json::Kind::String), what, ": __metadata__ value of '", v.keys[j], "' must be a string");
                file.metadata[v.keys[j]] = v.items[j].text;
            }
            continue;
        }
        entries.push_back(parse_entry(key, v, data_size, what));
    }
    // The tensors must tile the data region exactly: sorted by offset, each starts where the last ended.
    std::vector<const Entry*> by_offset;
    for (const Entry& e : entries) by_offset.push_back(&e);
    std::sort(by_offset.begin(), by_offset.end(), [](const Entry* a, const Entry* b) {
        return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
    });
    uint64_t expected = 0;
    for (const Entry* e : by_offset) {
        SR_CHECK(e->begin == expected, what, ": tensor '", e->name, "' starts at byte ", e->begin, " of the data, expected ",
                 expected, " (tensors overlap or leave a gap)");
        expected = e->end;
    }
    SR_CHECK(expected == data_size, what, ": tensors cover ", expected, " bytes but the data region has ", data_size);

    const char* data = bytes.data() + 8 + header_len;
    for (const Entry& e : entries) file.tensors.emplace_back(e.name, decode(e, data));
    return file;
}

SafetensorsFile read_safetensors(const std::string& path) { return parse_safetensors(read_file(path), path); }

std::string serialize_safetensors(const std::vector<std::pair<std::string, Tensor>>& tensors,
                                  const std::map<std::string, std::string>& metadata) {
    std::ostringstream header;
    std::string data;
    header << '{';
    bool first = true;
    if (!metadata.empty()) {
        header << "\"__metadata__\":{";
        for (const auto& [k, v] : metadata) {
            header << (first ? "" : ",") << json_quote(k) << ':' << json_quote(v);
            first = false;
        }
        header << '}';
    }
    std::set<std::string> names;
    for (const auto& [name, tensor] : tensors) {
        SR_CHECK(!name.empty() && name != "__metadata__", "safetensors: invalid tensor name '", name, "'");
        SR_CHECK(names.insert(name).second, "safetensors: tensor name '", name, "' appears twice");
        SR_CHECK(tensor.defined(), "safetensors: tensor '", name, "' is undefined");
        const Tensor t = tensor.detach().to(Device::cpu()).contiguous();
        const size_t nbytes = static_cast<size_t>(t.numel()) * itemsize(t.dtype());
        header << (first ? "" : ",") << json_quote(name) << ":{\"dtype\":\"" << sr::name(t.dtype()) << "\",\"shape\":[";
        for (size_t d = 0; d < t.shape().size(); ++d) header << (d ? "," : "") << t.shape()[d];
        header << "],\"data_offsets\":[" << data.size() << ',' << data.size() + nbytes << "]}";
        first = false;
        data.append(static_cast<const char*>(t.raw_data()), nbytes);
    }
    header << '}';
    std::string text = header.str();
    text.append((8 - text.size() % 8) % 8, ' ');  // keeps the data 8-byte aligned
    std::string out(8, '\0');
    const uint64_t len = text.size();
    std::memcpy(out.data(), &len, 8);
    out += text;
    out += data;
    return out;
}

void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
    write_file_atomic(path, serialize_safetensors(tensors, metadata));
}

}  // namespace sr
