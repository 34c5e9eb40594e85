#include "core/pth.h"

#include <zip.h>

#include <cstring>
#include <map>

#include "core/file.h"
#include "core/half.h"
#include "core/hdf5.h"
#include "core/keras.h"
#include "core/pickle.h"

namespace sr {

namespace {

using pickle::Value;
using Kind = Value::Kind;

// ---- storages and tensors -----------------------------------------------------------------------

struct StorageType {
    const char* name;
    size_t bytes;  // per element in the file
    DType dtype;   // what it is read into
};
constexpr StorageType kStorageTypes[] = {
    {"FloatStorage", 4, DType::F32}, {"DoubleStorage", 8, DType::F64}, {"HalfStorage", 2, DType::F32}, {"BFloat16Storage", 2, DType::F32},
    {"LongStorage", 8, DType::I64},  {"IntStorage", 4, DType::I32},    {"ShortStorage", 2, DType::I16}, {"CharStorage", 1, DType::I8},
    {"ByteStorage", 1, DType::U8},   {"BoolStorage", 1, DType::Bool},
};

const StorageType& storage_type(const std::string& name) {
    for (const StorageType& t : kStorageTypes)
        if (name == t.name) return t;
    fail("pth: unknown storage type '", name, "'");  // core/pickle.cpp admits only the ones above
}

// One element of the file's bytes into the tensor's element type.
void convert_element(const StorageType& type, const char* src, char* dst) {
    if (type.dtype == DType::F32 && type.bytes == 2) {
        uint16_t raw;
        std::memcpy(&raw, src, 2);
        const float v = std::string(type.name) == "HalfStorage" ? half_to_float(raw) : bfloat16_to_float(raw);
        std::memcpy(dst, &v, 4);
    } else if (type.dtype == DType::Bool) {
        *reinterpret_cast<bool*>(dst) = *src != 0;
    } else {
        std::memcpy(dst, src, type.bytes);
    }
}

// An error naming the tensor if its view reaches past the storage (a hostile size/stride/offset
// must never read outside the bytes) or holds more elements than the storage.
void check_view(const Value& t, const std::string& name, const std::string& what) {
    int64_t last = t.offset;
    for (size_t d = 0; d < t.size.size(); ++d) {
        if (t.size[d] == 0) return;  // no elements: nothing is read
        int64_t reach = 0;
        SR_CHECK(!__builtin_mul_overflow(t.size[d] - 1, t.stride[d], &reach) && !__builtin_add_overflow(last, reach, &last), "'", what,
                 "': tensor '", name, "' has sizes and strides that overflow");
    }
    SR_CHECK(last < t.storage->storage_numel, "'", what, "': tensor '", name, "' (size ", Shape(t.size), ", offset ", t.offset,
             ") reaches element ", last, " of a storage of ", t.storage->storage_numel, " (the storage is too short)");
    // Stride-0 (expanded) views could make a few stored bytes into terabytes; state dicts hold none.
    int64_t count = 1;
    for (int64_t d : t.size) SR_CHECK(!__builtin_mul_overflow(count, d, &count), "'", what, "': tensor '", name, "' is too large");
    SR_CHECK(count <= t.storage->storage_numel, "'", what, "': tensor '", name, "' has ", count, " elements but its storage only ",
             t.storage->storage_numel, " (an expanded view, which srforge does not read)");
}

// Copies a (possibly strided) view of the storage's bytes into a new contiguous tensor.
Tensor gather(const Value& t, const std::string& bytes, const std::string& name, const std::string& what) {
    const StorageType& type = storage_type(t.storage->storage_type);
    check_view(t, name, what);
    Tensor out = Tensor::empty(t.size, type.dtype, Device::cpu());
    const int64_t n = out.numel(), dims = int64_t(t.size.size());
    char* dst = static_cast<char*>(out.raw_data());
    const size_t out_bytes = itemsize(type.dtype);
    std::vector<int64_t> index(size_t(dims), 0);
    int64_t at = t.offset;  // storage element of the current index
    for (int64_t i = 0; i < n; ++i) {
        convert_element(type, bytes.data() + size_t(at) * type.bytes, dst + size_t(i) * out_bytes);
        for (int64_t d = dims - 1; d >= 0; --d) {  // the next index, last dimension fastest
            if (++index[size_t(d)] < t.size[size_t(d)]) {
                at += t.stride[size_t(d)];
                break;
            }
            at -= (t.size[size_t(d)] - 1) * t.stride[size_t(d)];
            index[size_t(d)] = 0;
        }
    }
    return out;
}

// ---- finding the state dict ---------------------------------------------------------------------

std::string strip_prefixes(std::string name) {
    for (bool again = true; again;) {
        again = false;
        for (const char* prefix : {"module.", "_orig_mod."})
            if (name.rfind(prefix, 0) == 0) {
                name = name.substr(std::strlen(prefix));
                again = true;
            }
    }
    return name;
}

std::string key_list(const Value& dict) {
    std::string keys;
    for (size_t i = 0; i < dict.keys.size() && i < 12; ++i)
        keys += (i ? ", " : "") + (dict.keys[i]->is(Kind::String) ? dict.keys[i]->text : std::string(pickle::kind_name(dict.keys[i]->kind)));
    return keys + (dict.keys.size() > 12 ? ", ..." : "");
}

// The dict that holds the weights, and the wrapper key it was under ("" for the object itself).
std::pair<const Value*, std::string> state_dict_of(const Value& root, const std::string& key, const std::string& what) {
    SR_CHECK(root.is(Kind::Dict), "'", what, "' holds a ", pickle::kind_name(root.kind), ", not a state dict");
    if (!key.empty()) {
        const Value* v = root.find(key);
        if (!v && root.find("params")) return state_dict_of(root, "params", what);  // BasicSR's load_network does the same
        SR_CHECK(v, "'", what, "' has no entry '", key, "' (it has: ", key_list(root), ")");
        SR_CHECK(v->is(Kind::Dict), "'", what, "': entry '", key, "' is a ", pickle::kind_name(v->kind), ", not a state dict");
        return {v, key};
    }
    for (const char* wrapper : {"params_ema", "params", "state_dict", "model"})
        if (const Value* v = root.find(wrapper); v && v->is(Kind::Dict)) return {v, wrapper};
    return {&root, ""};
}

SafetensorsFile tensors_of(const PthObject& object, const std::string& what, const std::string& key) {
    const auto [dict, wrapper] = state_dict_of(object.root(), key, what);
    SafetensorsFile file;
    std::map<std::string, size_t> seen;
    for (size_t i = 0; i < dict->keys.size(); ++i) {
        const Value& v = *dict->items[i];
        if (!v.is(Kind::Tensor) || !dict->keys[i]->is(Kind::String)) continue;
        const std::string name = strip_prefixes(dict->keys[i]->text);
        SR_CHECK(seen.emplace(name, i).second, "'", what, "': two tensors are named '", name, "' once prefixes are removed");
        file.tensors.emplace_back(name, object.tensor(v, name));
    }
    SR_CHECK(!file.tensors.empty(), "'", what, "' holds no tensors", wrapper.empty() ? "" : " under '" + wrapper + "'", " (its keys: ",
             key_list(*dict), ")");
    if (!wrapper.empty()) file.metadata["state_dict_key"] = wrapper;
    file.metadata["format"] = object.format();
    return file;
}

// ---- the zip container --------------------------------------------------------------------------

class ZipReader {
public:
    ZipReader(const std::string& bytes, const std::string& what);
    ~ZipReader() {
        if (zip_) zip_discard(zip_);
    }
    ZipReader(const ZipReader&) = delete;
    ZipReader& operator=(const ZipReader&) = delete;
    // The folder all entries sit in ("archive/"), as torch.load finds it: that of data.pkl.
    std::string prefix() const;
    std::string read(const std::string& name, const uint64_t* expected_size) const;

private:
    zip_t* zip_ = nullptr;
    const std::string& what_;
};

ZipReader::ZipReader(const std::string& bytes, const std::string& what) : what_(what) {
    zip_error_t error;
    zip_error_init(&error);
    zip_source_t* source = zip_source_buffer_create(bytes.data(), bytes.size(), 0, &error);
    if (source) zip_ = zip_open_from_source(source, ZIP_RDONLY | ZIP_CHECKCONS, &error);
    if (!zip_) {
        const std::string why = zip_error_strerror(&error);
        zip_error_fini(&error);
        if (source) zip_source_free(source);
        fail("'", what, "': not a readable zip archive (", why, "); truncated or damaged?");
    }
    zip_error_fini(&error);
}

std::string ZipReader::prefix() const {
    const zip_int64_t n = zip_get_num_entries(zip_, 0);
    for (zip_int64_t i = 0; i < n; ++i) {
        const char* name = zip_get_name(zip_, zip_uint64_t(i), 0);
        const std::string s = name ? name : "";
        const size_t slash = s.find('/');
        if (slash != std::string::npos && s.substr(slash + 1) == "data.pkl") return s.substr(0, slash + 1);
    }
    fail("'", what_, "' is a zip archive without ARCHIVE/data.pkl: not a PyTorch checkpoint");
}

// An entry's bytes; `expected_size` (when not null) is what the pickle says they must be. An
// entry may not expand past the input limit, nor past deflate's greatest ratio (about 1000:1).
std::string ZipReader::read(const std::string& name, const uint64_t* expected_size) const {
    const zip_int64_t index = zip_name_locate(zip_, name.c_str(), 0);
    SR_CHECK(index >= 0, "'", what_, "' lacks '", name, "' (truncated, or not a PyTorch checkpoint)");
    zip_stat_t st;
    SR_CHECK(zip_stat_index(zip_, zip_uint64_t(index), 0, &st) == 0 && (st.valid & ZIP_STAT_SIZE) && (st.valid & ZIP_STAT_COMP_SIZE),
             "'", what_, "': cannot read '", name, "'");
    SR_CHECK(!expected_size || st.size == *expected_size, "'", what_, "': '", name, "' holds ", st.size, " bytes, but its tensors need ",
             expected_size ? *expected_size : 0, " (the storage is too short, or the file is damaged)");
    const uint64_t limit = uint64_t(limit_from_environment("SR_MAX_INPUT_BYTES", int64_t(16) << 30));
    SR_CHECK(st.size <= limit && st.size / 1024 <= st.comp_size, "'", what_, "': '", name, "' would expand to ", st.size,
             " bytes (from ", st.comp_size, "; the limit is ", limit, ", set SR_MAX_INPUT_BYTES to change it)");
    zip_file_t* f = zip_fopen_index(zip_, zip_uint64_t(index), 0);
    SR_CHECK(f, "'", what_, "': cannot open '", name, "': ", zip_strerror(zip_));
    std::string out(size_t(st.size), '\0');
    const zip_int64_t got = st.size ? zip_fread(f, out.data(), st.size) : 0;
    zip_fclose(f);
    SR_CHECK(got == zip_int64_t(st.size), "'", what_, "': '", name, "' could not be read whole (damaged?)");
    return out;
}

uint64_t storage_bytes(const Value& storage) {
    uint64_t bytes = 0;
    SR_CHECK(!__builtin_mul_overflow(uint64_t(storage.storage_numel), storage_type(storage.storage_type).bytes, &bytes),
             "pth: a storage too large to exist");
    return bytes;
}

// ---- the legacy container -----------------------------------------------------------------------

// torch/serialization.py's MAGIC_NUMBER, 0x1950a86a20f9469cfc6c, as pickle writes it (little-endian).
const std::string kLegacyMagic("\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19", 10);

void check_legacy_preamble(const std::string& bytes, size_t* pos, const std::string& what) {
    const pickle::Pickle magic = pickle::load(bytes, pos, what);
    SR_CHECK(magic.root->is(Kind::BigInt) && magic.root->text == kLegacyMagic, "'", what,
             "' is a pickle but not a PyTorch checkpoint (no torch.save magic number)");
    const pickle::Pickle protocol = pickle::load(bytes, pos, what);
    SR_CHECK(protocol.root->is(Kind::Int) && protocol.root->integer == 1001, "'", what, "': torch.save protocol ",
             protocol.root->is(Kind::Int) ? std::to_string(protocol.root->integer) : "?", ", srforge reads 1001");
    const pickle::Pickle sys_info = pickle::load(bytes, pos, what);
    const Value* little = sys_info.root->find("little_endian");
    SR_CHECK(little && little->is(Kind::Bool) && little->integer == 1, "'", what, "' was written on a big-endian machine");
}

// After the key list, each storage: its element count (8 bytes, little-endian), then its bytes.
std::map<std::string, std::string> legacy_storages(const std::string& bytes, size_t pos, const pickle::Pickle& object,
                                                   const pickle::Pickle& keys, const std::string& what) {
    std::map<std::string, const Value*> by_key;
    for (const Value& v : object.arena)
        if (v.is(Kind::Storage)) by_key[v.storage_key] = &v;
    SR_CHECK(keys.root->is(Kind::List), "'", what, "': the storage key list is a ", pickle::kind_name(keys.root->kind));
    std::map<std::string, std::string> out;
    for (const pickle::Ref key : keys.root->items) {
        SR_CHECK(key->is(Kind::String) && by_key.count(key->text), "'", what, "': the storage key list names a storage no tensor uses");
        const Value& s = *by_key[key->text];
        SR_CHECK(bytes.size() - pos >= 8, "'", what, "' ends before storage '", key->text, "' (truncated?)");
        uint64_t count = 0;
        std::memcpy(&count, bytes.data() + pos, 8);
        pos += 8;
        SR_CHECK(count == uint64_t(s.storage_numel), "'", what, "': storage '", key->text, "' holds ", count, " elements, its tensors say ",
                 s.storage_numel);
        const uint64_t n = storage_bytes(s);
        SR_CHECK(n <= bytes.size() - pos, "'", what, "' ends inside storage '", key->text, "' (truncated?)");
        out[key->text] = bytes.substr(pos, size_t(n));
        pos += size_t(n);
    }
    SR_CHECK(out.size() == by_key.size(), "'", what, "': ", by_key.size() - out.size(), " storages are not in the file");
    return out;
}

}  // namespace

bool is_pth(const std::string& bytes) { return bytes.rfind("PK\x03\x04", 0) == 0 || (!bytes.empty() && uint8_t(bytes[0]) == 0x80); }

// What a PthObject holds: the pickled object and the bytes of its storages (legacy: all, found
// when opened; zip: each entry read when a tensor first needs it).
struct PthObject::Contents {
    pickle::Pickle object;
    std::unique_ptr<ZipReader> zip;
    std::string prefix;  // the zip's folder, "archive/"
    mutable std::map<std::string, std::string> storages;  // storage key -> bytes
    const char* format = "";

    const std::string& bytes_of(const Value& storage) const {
        auto it = storages.find(storage.storage_key);
        if (it != storages.end()) return it->second;
        SR_CHECK(zip, "pth: storage '", storage.storage_key, "' is missing");  // legacy_storages found them all
        const uint64_t expected = storage_bytes(storage);
        return storages.emplace(storage.storage_key, zip->read(prefix + "data/" + storage.storage_key, &expected)).first->second;
    }
};

PthObject::PthObject(const std::string& bytes, const std::string& what) : what_(what), contents_(std::make_unique<Contents>()) {
    Contents& c = *contents_;
    size_t pos = 0;
    if (bytes.rfind("PK\x03\x04", 0) == 0) {
        c.zip = std::make_unique<ZipReader>(bytes, what_);
        c.prefix = c.zip->prefix();
        const std::string data_pkl = c.zip->read(c.prefix + "data.pkl", nullptr);
        c.object = pickle::load(data_pkl, &pos, what_);
        c.format = "pth-zip";
        return;
    }
    SR_CHECK(!bytes.empty() && uint8_t(bytes[0]) == 0x80, "'", what, "' is not a PyTorch checkpoint (neither a zip archive nor a pickle)");
    check_legacy_preamble(bytes, &pos, what_);
    c.object = pickle::load(bytes, &pos, what_);
    const pickle::Pickle keys = pickle::load(bytes, &pos, what_);
    c.storages = legacy_storages(bytes, pos, c.object, keys, what_);
    c.format = "pth-legacy";
}

PthObject::~PthObject() = default;

const pickle::Value& PthObject::root() const { return *contents_->object.root; }

Tensor PthObject::tensor(const pickle::Value& value, const std::string& name) const {
    SR_CHECK(value.is(Kind::Tensor), "'", what_, "': '", name, "' is a ", pickle::kind_name(value.kind), ", not a tensor");
    return gather(value, contents_->bytes_of(*value.storage), name, what_);
}

const char* PthObject::format() const { return contents_->format; }

SafetensorsFile parse_pth(const std::string& bytes, const std::string& what, const std::string& key) {
    const PthObject object(bytes, what);
    return tensors_of(object, what, key);
}

SafetensorsFile read_pth(const std::string& path, const std::string& key) { return parse_pth(read_file(path), path, key); }

SafetensorsFile read_weights(const std::string& path, const std::string& key) {
    const std::string bytes = read_file(path);
    if (is_pth(bytes)) return parse_pth(bytes, path, key);
    if (hdf5::is_hdf5(bytes)) return parse_keras_weights(bytes, path);
    return parse_safetensors(bytes, path);
}

}  // namespace sr
