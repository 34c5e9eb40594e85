#include "core/hdf5.h"

#include <cstring>
#include <set>

#include "core/half.h"

namespace sr::hdf5 {

namespace {

const std::string kSignature("\x89HDF\r\n\x1a\n", 8);
constexpr uint64_t kUndefined = ~uint64_t(0);  // an address of all ones: nothing stored there
constexpr size_t kMaxMessages = size_t(1) << 16;  // per object header
constexpr size_t kMaxBlocks = 1024;              // header continuation blocks per object
constexpr int kMaxTreeDepth = 32;
constexpr size_t kMaxGroupNodes = size_t(1) << 16;  // B-tree and symbol table nodes read for one group
constexpr size_t kMaxGroupMembers = size_t(1) << 20;
constexpr size_t kMaxRank = 32;

// Object header message types (the specification's numbers).
enum : uint16_t {
    kDataspace = 0x01,
    kLinkInfo = 0x02,
    kDatatype = 0x03,
    kLink = 0x06,
    kLayout = 0x08,
    kFilters = 0x0B,
    kAttribute = 0x0C,
    kContinuation = 0x10,
    kSymbolTable = 0x11,
};

enum : int { kFixedPoint = 0, kFloat = 1, kString = 3, kVariableLength = 9 };

struct Message {
    uint16_t type;
    uint8_t flags;
    uint64_t at, size;  // where its data lies in the file
};

struct Datatype {
    int type_class = -1;
    uint64_t size = 0;  // bytes per element (a variable-length string's: its length and global heap ID)
    int string_padding = 0;  // fixed-length strings: 0 null-terminated, 1 null-padded, 2 space-padded
};

struct Dataspace {
    std::vector<uint64_t> dims;  // empty for a scalar
    bool null = false;           // no elements at all
    uint64_t count(const std::string& what) const;
};

}  // namespace

// Every read goes through here, bounded by the file's size or by the structure it is part of.
struct File::Reader {
    const std::string& bytes;
    std::string what;
    int offset_size = 8, length_size = 8;
    uint64_t base = 0;         // addresses in the file are relative to it
    uint64_t root_header = 0;  // the root group's object header

    // A window [pos, end) of the file that reads advance through.
    struct Span {
        const Reader* r;
        uint64_t pos, end;
        uint64_t number(int n);  // little-endian, n <= 8 bytes
        uint64_t offset() { return number(r->offset_size); }
        uint64_t length() { return number(r->length_size); }
        uint64_t address();      // absolute, or kUndefined
        void skip(uint64_t n);
        std::string text(uint64_t n);
        Span take(uint64_t n);   // the next n bytes as their own span
    };

    [[noreturn]] void damaged(const std::string& message) const { fail("'", what, "': ", message, " (not an HDF5 file, or damaged)"); }
    [[noreturn]] void refuse(const std::string& message) const { fail("'", what, "': ", message); }
    Span at(uint64_t pos, uint64_t n, const char* part) const;
    void signature(Span& s, const char* expected, const char* part) const;

    void superblock();
    std::vector<Message> messages(uint64_t header) const;
    void read_block(uint64_t start, uint64_t size, std::vector<Message>* out, std::vector<std::pair<uint64_t, uint64_t>>* more) const;
    std::vector<std::pair<std::string, uint64_t>> group_entries(uint64_t header, const std::string& path) const;
    void walk_tree(uint64_t node, int depth, const Span& heap, std::set<uint64_t>* seen,
                   std::vector<std::pair<std::string, uint64_t>>* out) const;
    void read_symbol_node(uint64_t node, const Span& heap, std::vector<std::pair<std::string, uint64_t>>* out) const;
    std::string heap_name(const Span& heap, uint64_t offset) const;
    std::optional<uint64_t> find(const std::string& path) const;
    uint64_t object(const std::string& path) const;

    Datatype datatype(Span s) const;
    Dataspace dataspace(Span s) const;
    std::vector<std::string> strings(const Datatype& type, const Dataspace& space, Span data, const std::string& name) const;
    std::vector<std::string> variable_strings(uint64_t count, Span data, const std::string& name) const;
    std::string global_heap_object(uint64_t collection, uint64_t index) const;
    Tensor floats(const Datatype& type, const Dataspace& space, Span data, const std::string& name) const;
};

namespace {

uint64_t Dataspace::count(const std::string& what) const {
    if (null) return 0;
    uint64_t n = 1;
    for (uint64_t d : dims) SR_CHECK(!__builtin_mul_overflow(n, d, &n), "'", what, "': a dataspace too large to exist");
    return n;
}

std::vector<std::string> split_path(const std::string& path) {
    std::vector<std::string> parts;
    size_t start = 0;
    while (start <= path.size()) {
        const size_t slash = std::min(path.find('/', start), path.size());
        if (slash > start) parts.push_back(path.substr(start, slash - start));
        start = slash + 1;
    }
    return parts;
}

}  // namespace

// ---- bytes ----------------------------------------------------------------------------------------

uint64_t File::Reader::Span::number(int n) {
    if (uint64_t(n) > end - pos) r->damaged("a structure ends early, at byte " + std::to_string(pos));
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= uint64_t(uint8_t(r->bytes[size_t(pos) + size_t(i)])) << (8 * i);
    pos += uint64_t(n);
    return v;
}

uint64_t File::Reader::Span::address() {
    const int n = r->offset_size;
    const uint64_t raw = number(n);
    if (raw == (n == 8 ? kUndefined : (uint64_t(1) << (8 * n)) - 1)) return kUndefined;
    uint64_t absolute = 0;
    if (__builtin_add_overflow(raw, r->base, &absolute) || absolute >= r->bytes.size())
        r->damaged("an address (" + std::to_string(raw) + ") past the end of the file");
    return absolute;
}

void File::Reader::Span::skip(uint64_t n) {
    if (n > end - pos) r->damaged("a structure ends early, at byte " + std::to_string(pos));
    pos += n;
}

std::string File::Reader::Span::text(uint64_t n) {
    const uint64_t from = pos;
    skip(n);
    return r->bytes.substr(size_t(from), size_t(n));
}

File::Reader::Span File::Reader::Span::take(uint64_t n) {
    const uint64_t from = pos;
    skip(n);
    return Span{r, from, from + n};
}

File::Reader::Span File::Reader::at(uint64_t pos, uint64_t n, const char* part) const {
    uint64_t end = 0;
    if (pos == kUndefined || __builtin_add_overflow(pos, n, &end) || end > bytes.size())
        damaged(std::string(part) + " lies past the end of the file");
    return Span{this, pos, end};
}

void File::Reader::signature(Span& s, const char* expected, const char* part) const {
    if (s.text(std::strlen(expected)) != expected) damaged(std::string(part) + " lacks its signature '" + expected + "'");
}

// ---- superblock and object headers ---------------------------------------------------------------

void File::Reader::superblock() {
    Span s = at(0, bytes.size(), "the superblock");
    if (s.text(8) != kSignature) damaged("no HDF5 signature at its start");
    const uint64_t version = s.number(1);
    if (version >= 2)
        refuse("superblock version " + std::to_string(version) + " (HDF5 1.8's newer format, h5py's libver='latest'); srforge reads "
               "versions 0 and 1, which h5py and Keras write by default");
    if (version != 0 && version != 1) damaged("superblock version " + std::to_string(version));
    s.skip(4);  // versions of the free-space storage, the root entry and shared headers; reserved
    offset_size = int(s.number(1));
    length_size = int(s.number(1));
    for (int n : {offset_size, length_size})
        if (n != 2 && n != 4 && n != 8) damaged("addresses of " + std::to_string(n) + " bytes");
    s.skip(1 + 2 + 2 + 4 + (version == 1 ? 4 : 0));  // reserved, the group B-tree K values, flags[, indexed storage K]
    const uint64_t raw_base = s.number(offset_size);
    if (raw_base >= bytes.size()) damaged("a base address past the end");
    base = raw_base;
    s.skip(uint64_t(3 * offset_size));  // free space, end of file, driver information
    s.skip(uint64_t(offset_size));      // the root entry's name (none)
    root_header = s.address();
    if (root_header == kUndefined) damaged("no root group");
}

// All messages of the object header at `header`, its continuation blocks followed.
std::vector<Message> File::Reader::messages(uint64_t header) const {
    Span s = at(header, 16, "an object header");
    const uint64_t version = s.number(1);
    if (version != 1) {
        if (bytes.compare(size_t(header), 4, "OHDR") == 0)
            refuse("an object header of version 2 (HDF5 1.8's newer format); srforge reads version 1, as h5py writes by default");
        damaged("an object header of version " + std::to_string(version));
    }
    s.skip(1);
    const uint64_t count = s.number(2);
    s.skip(4);  // reference count
    const uint64_t size = s.number(4);
    std::vector<Message> out;
    std::vector<std::pair<uint64_t, uint64_t>> blocks = {{header + 16, size}};  // the prefix is padded to 16 bytes
    std::set<uint64_t> seen;
    for (size_t i = 0; i < blocks.size(); ++i) {
        if (blocks.size() > kMaxBlocks || !seen.insert(blocks[i].first).second) damaged("an object header continued in a loop");
        read_block(blocks[i].first, blocks[i].second, &out, &blocks);
    }
    if (out.size() < count) damaged("an object header with fewer messages than it says");
    return out;
}

void File::Reader::read_block(uint64_t start, uint64_t size, std::vector<Message>* out,
                              std::vector<std::pair<uint64_t, uint64_t>>* more) const {
    Span s = at(start, size, "an object header block");
    while (s.end - s.pos >= 8) {
        Message m{};
        m.type = uint16_t(s.number(2));
        const uint64_t message_size = s.number(2);
        m.flags = uint8_t(s.number(1));
        s.skip(3);
        Span data = s.take(message_size);
        m.at = data.pos;
        m.size = message_size;
        if (m.type == kContinuation) {
            const uint64_t where = data.address(), length = data.length();
            more->emplace_back(where, length);
        }
        out->push_back(m);
        if (out->size() > kMaxMessages) damaged("an object header with too many messages");
    }
}

namespace {
const Message* first_of(const std::vector<Message>& messages, uint16_t type) {
    for (const Message& m : messages)
        if (m.type == type) return &m;
    return nullptr;
}
}  // namespace

// ---- groups ----------------------------------------------------------------------------------------

std::string File::Reader::heap_name(const Span& heap, uint64_t offset) const {
    if (offset >= heap.end - heap.pos) damaged("a name outside its group's heap");
    const size_t from = size_t(heap.pos + offset), nul = bytes.find('\0', from);
    if (nul == std::string::npos || nul >= heap.end) damaged("a name without its end in its group's heap");
    return bytes.substr(from, nul - from);
}

void File::Reader::read_symbol_node(uint64_t node, const Span& heap, std::vector<std::pair<std::string, uint64_t>>* out) const {
    Span s = at(node, 8, "a symbol table node");
    signature(s, "SNOD", "a symbol table node");
    if (s.number(1) != 1) damaged("a symbol table node of an unknown version");
    s.skip(1);
    const uint64_t count = s.number(2);
    const uint64_t entry = uint64_t(2 * offset_size + 24);
    Span entries = at(s.pos, count * entry, "a symbol table node's entries");
    for (uint64_t i = 0; i < count; ++i) {
        const uint64_t name = entries.offset();
        const uint64_t header = entries.address();
        entries.skip(24);  // cache type, reserved, scratch pad
        if (header == kUndefined) damaged("a group member without an object header");
        if (out->size() >= kMaxGroupMembers) damaged("a group with more than a million members");
        out->emplace_back(heap_name(heap, name), header);
    }
}

void File::Reader::walk_tree(uint64_t node, int depth, const Span& heap, std::set<uint64_t>* seen,
                             std::vector<std::pair<std::string, uint64_t>>* out) const {
    if (depth > kMaxTreeDepth || seen->size() > kMaxGroupNodes || !seen->insert(node).second)
        damaged("a group B-tree that loops or is too deep");
    Span s = at(node, 8 + 2 * uint64_t(offset_size), "a group B-tree node");
    signature(s, "TREE", "a group B-tree node");
    if (s.number(1) != 0) damaged("a B-tree of another kind where a group's was expected");
    const uint64_t level = s.number(1), entries = s.number(2);
    s.skip(2 * uint64_t(offset_size));  // siblings
    Span keys = at(s.pos, entries * uint64_t(offset_size + length_size) + uint64_t(length_size), "a group B-tree node's entries");
    for (uint64_t i = 0; i < entries; ++i) {
        keys.skip(uint64_t(length_size));  // the key: the heap offset of the child's last name
        const uint64_t child = keys.address();
        if (child == kUndefined) damaged("a group B-tree with an empty child");
        if (level > 0) walk_tree(child, depth + 1, heap, seen, out);
        else {
            if (!seen->insert(child).second) damaged("a symbol table node listed twice in its group");
            read_symbol_node(child, heap, out);
        }
    }
}

// A group's members, from its symbol table message: a B-tree of names kept in a local heap.
std::vector<std::pair<std::string, uint64_t>> File::Reader::group_entries(uint64_t header, const std::string& path) const {
    const std::vector<Message> ms = messages(header);
    const Message* table = first_of(ms, kSymbolTable);
    if (!table) {
        if (first_of(ms, kLink) || first_of(ms, kLinkInfo))
            refuse("group '" + path + "' is of HDF5 1.8's newer kind (links); srforge reads symbol-table groups, as h5py writes by default");
        refuse("'" + path + "' is not a group");
    }
    Span t = at(table->at, table->size, "a symbol table message");
    const uint64_t tree = t.address(), heap_header = t.address();
    Span h = at(heap_header, 8, "a group's local heap");
    signature(h, "HEAP", "a group's local heap");
    if (h.number(1) != 0) damaged("a local heap of an unknown version");
    h.skip(3);  // reserved
    Span sizes = at(h.pos, uint64_t(2 * length_size + offset_size), "a group's local heap");
    const uint64_t data_size = sizes.length();
    sizes.skip(uint64_t(length_size));  // the free list
    const uint64_t data = sizes.address();
    const Span heap = at(data, data_size, "a group's local heap data");
    std::vector<std::pair<std::string, uint64_t>> out;
    std::set<uint64_t> seen;
    walk_tree(tree, 0, heap, &seen, &out);
    return out;
}

std::optional<uint64_t> File::Reader::find(const std::string& path) const {
    const std::vector<std::string> parts = split_path(path);
    if (parts.size() > 64) refuse("path '" + path.substr(0, 200) + "' is too deep");
    uint64_t header = root_header;
    std::string so_far;
    for (const std::string& part : parts) {
        bool found = false;
        for (const auto& [name, child] : group_entries(header, so_far.empty() ? "/" : so_far))
            if (name == part) {
                header = child;
                found = true;
                break;
            }
        if (!found) return std::nullopt;
        so_far += "/" + part;
    }
    return header;
}

uint64_t File::Reader::object(const std::string& path) const {
    const std::optional<uint64_t> header = find(path);
    if (!header) refuse("it has no '" + path + "'");
    return *header;
}

// ---- types, shapes, values -------------------------------------------------------------------------

Datatype File::Reader::datatype(Span s) const {
    Datatype t;
    const uint64_t class_and_version = s.number(1), bits = s.number(3);
    t.type_class = int(class_and_version & 0x0f);
    t.size = s.number(4);
    if (t.size == 0) damaged("a datatype of zero bytes");
    if (t.type_class == kVariableLength && (bits & 0x0f) != 1) refuse("it holds variable-length sequences, which srforge does not read");
    if (t.type_class == kString) t.string_padding = int(bits & 0x0f);
    if (t.type_class == kFloat || t.type_class == kFixedPoint) {
        if (bits & 0x41) refuse("it holds big-endian numbers, which srforge does not read");
    }
    if (t.type_class == kFloat) {
        s.skip(4);  // bit offset, precision
        s.skip(1);
        const uint64_t exponent = s.number(1);
        s.skip(1);
        const uint64_t mantissa = s.number(1);
        const bool ieee = (t.size == 2 && exponent == 5 && mantissa == 10) || (t.size == 4 && exponent == 8 && mantissa == 23) ||
                          (t.size == 8 && exponent == 11 && mantissa == 52);
        if (!ieee) refuse("it holds floating-point numbers of " + std::to_string(t.size) + " bytes that are not IEEE half, single or double");
    }
    return t;
}

Dataspace File::Reader::dataspace(Span s) const {
    Dataspace d;
    const uint64_t version = s.number(1), rank = s.number(1), flags = s.number(1);
    if (version == 1) s.skip(5);
    else if (version == 2) d.null = s.number(1) == 2;
    else damaged("a dataspace of version " + std::to_string(version));
    if (rank > kMaxRank) damaged("a dataspace of " + std::to_string(rank) + " dimensions");
    for (uint64_t i = 0; i < rank; ++i) d.dims.push_back(s.length());
    (void)flags;  // maximum sizes may follow; they do not matter for reading
    return d;
}

std::vector<std::string> File::Reader::strings(const Datatype& type, const Dataspace& space, Span data, const std::string& name) const {
    const uint64_t n = space.count(what);
    if (n == 0) return {};
    if (type.type_class == kVariableLength) return variable_strings(n, data, name);
    if (type.type_class != kString) refuse("attribute '" + name + "' is not a list of strings");
    uint64_t total = 0;
    if (__builtin_mul_overflow(n, type.size, &total) || total > data.end - data.pos) damaged("attribute '" + name + "' ends early");
    std::vector<std::string> out;
    for (uint64_t i = 0; i < n; ++i) {
        std::string s = data.text(type.size);
        const size_t stop = type.string_padding == 2 ? s.find_last_not_of(' ') + 1 : s.find('\0');
        if (stop != std::string::npos) s.resize(stop);
        out.push_back(std::move(s));
    }
    return out;
}

// Variable-length strings (h5py 3 writes lists of strings so): per element its length and where
// it lies, an object of a global heap collection.
std::vector<std::string> File::Reader::variable_strings(uint64_t count, Span data, const std::string& name) const {
    std::vector<std::string> out;
    uint64_t total = 0;  // strings may share heap objects; together they may not outgrow the file
    for (uint64_t i = 0; i < count; ++i) {
        const uint64_t length = data.number(4), collection = data.address(), index = data.number(4);
        if ((total += length) > bytes.size()) damaged("attribute '" + name + "' holds more string bytes than the file");
        std::string s = global_heap_object(collection, index);
        if (length > s.size()) damaged("attribute '" + name + "' has a string longer than its heap object");
        s.resize(size_t(length));
        out.push_back(std::move(s));
    }
    return out;
}

// A global heap collection ("GCOL"): objects of (index, references, size, bytes padded to 8).
std::string File::Reader::global_heap_object(uint64_t collection, uint64_t index) const {
    // The collection's header and each object's are padded to multiples of 8 bytes (H5HGpkg.h).
    auto aligned = [](uint64_t n) { return (n + 7) / 8 * 8; };
    Span head = at(collection, 8, "a global heap");
    signature(head, "GCOL", "a global heap");
    if (head.number(1) != 1) damaged("a global heap of an unknown version");
    head.skip(3);
    Span sizes = at(head.pos, uint64_t(length_size), "a global heap");
    Span objects = at(collection, sizes.length(), "a global heap");
    objects.skip(aligned(8 + uint64_t(length_size)));
    const uint64_t object_header = aligned(8 + uint64_t(length_size));
    while (objects.end - objects.pos >= object_header) {
        const uint64_t at_object = objects.pos, i = objects.number(2);
        objects.skip(6);  // reference count, reserved
        const uint64_t size = objects.length();
        if (i == 0) break;  // the free space: no objects after it
        objects.skip(at_object + object_header - objects.pos);
        if (i == index) return objects.text(size);
        objects.skip(std::min<uint64_t>(aligned(size), objects.end - objects.pos));
    }
    damaged("a string's global heap object " + std::to_string(index) + " is not in its collection");
}

Tensor File::Reader::floats(const Datatype& type, const Dataspace& space, Span data, const std::string& name) const {
    if (type.type_class != kFloat) refuse("dataset '" + name + "' is not of floating-point numbers");
    const uint64_t n = space.count(what);
    uint64_t total = 0;
    if (__builtin_mul_overflow(n, type.size, &total) || total != data.end - data.pos)
        damaged("dataset '" + name + "' holds " + std::to_string(data.end - data.pos) + " bytes, its shape and type need " + std::to_string(total));
    Shape shape;
    for (uint64_t d : space.dims) shape.push_back(int64_t(d));
    Tensor out = Tensor::empty(shape, DType::F32, Device::cpu());
    float* dst = out.data<float>();
    const char* src = bytes.data() + data.pos;
    for (uint64_t i = 0; i < n; ++i) {
        if (type.size == 4) std::memcpy(&dst[i], src + 4 * i, 4);
        else if (type.size == 8) {
            double v;
            std::memcpy(&v, src + 8 * i, 8);
            dst[i] = float(v);
        } else {
            uint16_t h;
            std::memcpy(&h, src + 2 * i, 2);
            dst[i] = half_to_float(h);
        }
    }
    return out;
}

// ---- the File -------------------------------------------------------------------------------------

bool is_hdf5(const std::string& bytes) { return bytes.rfind(kSignature, 0) == 0; }

File::File(const std::string& bytes, const std::string& what) : reader_(std::make_unique<Reader>(Reader{bytes, what})) {
    reader_->superblock();
}

File::~File() = default;

bool File::exists(const std::string& path) const { return reader_->find(path).has_value(); }

std::vector<std::string> File::members(const std::string& group) const {
    std::vector<std::string> names;
    for (const auto& [name, header] : reader_->group_entries(reader_->object(group), group)) names.push_back(name);
    return names;
}

std::optional<std::vector<std::string>> File::string_attribute(const std::string& path, const std::string& name) const {
    const Reader& r = *reader_;
    for (const Message& m : r.messages(r.object(path))) {
        if (m.type != kAttribute) continue;
        Reader::Span s = r.at(m.at, m.size, "an attribute");
        const uint64_t version = s.number(1), flags = s.number(1);
        if (version < 1 || version > 3) r.damaged("an attribute of version " + std::to_string(version));
        if (version > 1 && (flags & 3)) r.refuse("attribute of '" + path + "' with a shared type or shape, which srforge does not read");
        const uint64_t name_size = s.number(2), type_size = s.number(2), space_size = s.number(2);
        if (version == 3) s.skip(1);  // the name's encoding
        auto padded = [&](uint64_t n) { return version == 1 ? (n + 7) / 8 * 8 : n; };
        std::string attribute = s.text(padded(name_size));
        attribute.resize(std::min<size_t>(attribute.find('\0'), size_t(name_size)));
        const Reader::Span type = s.take(padded(type_size)), space = s.take(padded(space_size));
        if (attribute != name) continue;
        return r.strings(r.datatype(type), r.dataspace(space), s, name);
    }
    return std::nullopt;
}

Tensor File::dataset(const std::string& path) const {
    const Reader& r = *reader_;
    const std::vector<Message> ms = r.messages(r.object(path));
    const Message *type = first_of(ms, kDatatype), *space = first_of(ms, kDataspace), *layout = first_of(ms, kLayout);
    if (!type || !space || !layout) r.refuse("'" + path + "' is not a dataset");
    if (first_of(ms, kFilters)) r.refuse("dataset '" + path + "' is compressed or filtered, which srforge does not read");
    if ((type->flags | space->flags) & 2) r.refuse("dataset '" + path + "' has a shared type or shape, which srforge does not read");
    Reader::Span l = r.at(layout->at, layout->size, "a data layout message");
    const uint64_t version = l.number(1), layout_class = l.number(1);
    if (version < 3 || version > 4) r.refuse("dataset '" + path + "' has a data layout of version " + std::to_string(version) +
                                              " (HDF5 before 1.6, or damaged)");
    Reader::Span data{&r, 0, 0};
    if (layout_class == 0) {  // compact: the bytes follow
        data = l.take(l.number(2));
    } else if (layout_class == 1) {  // contiguous
        const uint64_t address = l.address(), size = l.length();
        if (address != kUndefined) data = r.at(address, size, "a dataset's data");
        else if (r.dataspace(r.at(space->at, space->size, "a dataspace")).count(r.what) != 0)
            r.refuse("dataset '" + path + "' has no data (never written)");
    } else {
        r.refuse("dataset '" + path + "' is stored in chunks, which srforge does not read (Keras' save_weights stores them whole)");
    }
    return r.floats(r.datatype(r.at(type->at, type->size, "a datatype")), r.dataspace(r.at(space->at, space->size, "a dataspace")),
                    data, path);
}

}  // namespace sr::hdf5
