#include "core/pickle.h"

#include <bit>
#include <charconv>
#include <cstring>
#include <set>

#include "core/error.h"

namespace sr::pickle {

const char* kind_name(Value::Kind kind) {
    static const char* names[] = {"None", "bool",    "int",  "int",    "float",   "str",    "bytes",
                                  "list", "tuple", "dict", "global", "storage", "tensor"};
    return names[static_cast<int>(kind)];
}

namespace {

using Kind = Value::Kind;

// A dict key as an index entry: strings and integers (the keys state dicts and wrappers use).
bool index_key(const Value& key, std::string* out) {
    if (key.is(Kind::String)) out->assign(1, 's').append(key.text);
    else if (key.is(Kind::Int) || key.is(Kind::Bool)) out->assign(1, 'i').append(std::to_string(key.integer));
    else return false;
    return true;
}

// The storage classes a persistent id may name (torch/storage.py), by element type.
const std::set<std::string>& storage_types() {
    static const std::set<std::string> names = {"FloatStorage", "DoubleStorage", "HalfStorage", "BFloat16Storage", "LongStorage",
                                                "IntStorage",   "ShortStorage",  "CharStorage", "ByteStorage",     "BoolStorage"};
    return names;
}

// What weights_only=True allows and a state dict uses. Everything else is refused by name.
bool allowed_global(const std::string& name) {
    static const std::set<std::string> callables = {
        "collections.OrderedDict",         "collections.Counter",  "torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2",
        "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state", "torch.Size", "_codecs.encode"};
    return callables.count(name) || (name.rfind("torch.", 0) == 0 && storage_types().count(name.substr(6)));
}

constexpr size_t kMaxValues = size_t(4) << 20;  // a state dict of 10,000 tensors needs about 150,000

class Machine {
public:
    Machine(const std::string& bytes, size_t pos, const std::string& what) : b_(bytes), pos_(pos), what_(what) {}
    Pickle run(size_t* end);

private:
    [[noreturn]] void error(const std::string& message) const {
        fail("'", what_, "': ", message, " (at byte ", op_at_, " of the pickle; not a PyTorch checkpoint, or damaged)");
    }
    // A well-formed file that holds something srforge will not read.
    [[noreturn]] void refuse(const std::string& message) const { fail("'", what_, "': ", message); }
    // ---- reading the opcode stream
    const char* take(size_t n);
    uint64_t little(size_t n);
    std::string line();
    int64_t line_integer();
    std::string counted(size_t length_bytes);
    // ---- the stacks
    Ref make(Kind kind);
    void push(Ref v) { stack_.push_back(v); }
    Ref pop();
    Ref& top();
    std::vector<Ref> pop_to_mark();
    // ---- opcodes, by family
    bool step(uint8_t op);
    bool constant(uint8_t op);
    bool container(uint8_t op);
    bool memo(uint8_t op);
    bool object(uint8_t op);
    void set_item(Value& dict, Ref key, Ref value);
    void add_items(Value& target, const std::vector<Ref>& items);
    Ref global(const std::string& module, const std::string& name);
    Ref reduce(const Value& callable, const Value& args);
    Ref rebuild_tensor(const std::vector<Ref>& args, bool v2);
    Ref persistent(const Value& pid);
    const Value& arg(const std::vector<Ref>& args, size_t i, Kind kind, const char* what);

    const std::string& b_;
    size_t pos_, op_at_ = 0;
    const std::string& what_;
    Pickle out_;
    std::vector<Ref> stack_;
    std::vector<size_t> marks_;
    std::unordered_map<uint64_t, Ref> memo_;
    std::unordered_map<std::string, Ref> storages_;  // one Value per storage key, as torch.load keeps them
};

const char* Machine::take(size_t n) {
    if (n > b_.size() - pos_) error("the pickle ends early (truncated?)");
    const char* p = b_.data() + pos_;
    pos_ += n;
    return p;
}

uint64_t Machine::little(size_t n) {
    const char* p = take(n);
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v |= uint64_t(uint8_t(p[i])) << (8 * i);
    return v;
}

std::string Machine::line() {
    const size_t end = b_.find('\n', pos_);
    if (end == std::string::npos) error("the pickle ends early (truncated?)");
    std::string s = b_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return s;
}

int64_t Machine::line_integer() {
    std::string s = line();
    if (!s.empty() && s.back() == 'L') s.pop_back();  // protocol 0 longs
    int64_t v = 0;
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) error("'" + s.substr(0, 40) + "' is not an integer");
    return v;
}

std::string Machine::counted(size_t length_bytes) {
    const uint64_t n = little(length_bytes);
    if (n > b_.size() - pos_) error("a string of " + std::to_string(n) + " bytes runs past the end");
    return std::string(take(size_t(n)), size_t(n));
}

Ref Machine::make(Kind kind) {
    if (out_.arena.size() >= kMaxValues) error("more than " + std::to_string(kMaxValues) + " objects");
    Value& v = out_.arena.emplace_back();
    v.kind = kind;
    return &v;
}

Ref Machine::pop() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) error("an opcode needs a value the stack lacks");
    Ref v = stack_.back();
    stack_.pop_back();
    return v;
}

Ref& Machine::top() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) error("an opcode needs a value the stack lacks");
    return stack_.back();
}

std::vector<Ref> Machine::pop_to_mark() {
    if (marks_.empty()) error("no mark to pop to");
    std::vector<Ref> items(stack_.begin() + std::ptrdiff_t(marks_.back()), stack_.end());
    stack_.resize(marks_.back());
    marks_.pop_back();
    return items;
}

Pickle Machine::run(size_t* end) {
    while (true) {
        op_at_ = pos_;
        const uint8_t op = uint8_t(*take(1));
        if (op == '.') break;  // STOP
        if (!step(op)) {
            char hex[8];
            std::snprintf(hex, sizeof hex, "0x%02x", op);
            error(std::string("opcode ") + hex + " is not one a checkpoint uses");
        }
    }
    if (stack_.size() != 1 || !marks_.empty()) error("the pickle does not end with exactly one value");
    out_.root = stack_.back();
    *end = pos_;
    return std::move(out_);
}

bool Machine::step(uint8_t op) { return constant(op) || container(op) || memo(op) || object(op); }

// Numbers, strings, None and booleans.
bool Machine::constant(uint8_t op) {
    auto integer = [&](int64_t v) {
        Ref x = make(Kind::Int);
        x->integer = v;
        push(x);
    };
    auto text = [&](Kind kind, std::string s) {
        Ref x = make(kind);
        x->text = std::move(s);
        push(x);
    };
    switch (op) {
        case 0x80: take(1); return true;  // PROTO
        case 0x95: take(8); return true;  // FRAME: a length hint only
        case 'N': push(make(Kind::None)); return true;
        case 0x88: case 0x89: {           // NEWTRUE, NEWFALSE
            Ref x = make(Kind::Bool);
            x->integer = op == 0x88;
            push(x);
            return true;
        }
        case 'K': integer(int64_t(little(1))); return true;                               // BININT1
        case 'M': integer(int64_t(little(2))); return true;                               // BININT2
        case 'J': integer(int64_t(int32_t(uint32_t(little(4))))); return true;           // BININT
        case 'I': case 'L': integer(line_integer()); return true;                         // INT, LONG
        case 0x8a: case 0x8b: {                                                           // LONG1, LONG4
            const std::string raw = counted(op == 0x8a ? 1 : 4);
            if (raw.size() > 8) {
                text(Kind::BigInt, raw);
                return true;
            }
            uint64_t v = 0;
            for (size_t i = 0; i < raw.size(); ++i) v |= uint64_t(uint8_t(raw[i])) << (8 * i);
            if (!raw.empty() && raw.size() < 8 && (uint8_t(raw.back()) & 0x80)) v |= ~uint64_t(0) << (8 * raw.size());  // sign
            integer(int64_t(v));
            return true;
        }
        case 'G': {  // BINFLOAT: big-endian IEEE double
            uint64_t bits = 0;
            const char* p = take(8);
            for (int i = 0; i < 8; ++i) bits = (bits << 8) | uint8_t(p[i]);
            Ref x = make(Kind::Float);
            x->number = std::bit_cast<double>(bits);
            push(x);
            return true;
        }
        case 'F': {  // FLOAT, as text
            const std::string s = line();
            Ref x = make(Kind::Float);
            const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), x->number);
            if (ec != std::errc() || p != s.data() + s.size()) error("'" + s.substr(0, 40) + "' is not a number");
            push(x);
            return true;
        }
        case 'X': text(Kind::String, counted(4)); return true;     // BINUNICODE
        case 0x8c: text(Kind::String, counted(1)); return true;    // SHORT_BINUNICODE
        case 0x8d: text(Kind::String, counted(8)); return true;    // BINUNICODE8
        case 'V': text(Kind::String, line()); return true;         // UNICODE (raw-unicode-escape; ASCII keys)
        case 'T': text(Kind::Bytes, counted(4)); return true;      // BINSTRING
        case 'U': text(Kind::Bytes, counted(1)); return true;      // SHORT_BINSTRING
        case 'B': text(Kind::Bytes, counted(4)); return true;      // BINBYTES
        case 'C': text(Kind::Bytes, counted(1)); return true;      // SHORT_BINBYTES
        case 0x8e: case 0x96: text(Kind::Bytes, counted(8)); return true;  // BINBYTES8, BYTEARRAY8
        default: return false;
    }
}

void Machine::set_item(Value& dict, Ref key, Ref value) {
    if (!dict.is(Kind::Dict)) error(std::string("setting an item of a ") + kind_name(dict.kind));
    std::string k;
    if (!index_key(*key, &k)) error(std::string("a dict key of type ") + kind_name(key->kind));
    const auto [it, fresh] = dict.index.emplace(k, dict.keys.size());
    if (!fresh) {
        dict.items[it->second] = value;  // as in Python: a repeated key replaces the value
        return;
    }
    dict.keys.push_back(key);
    dict.items.push_back(value);
}

void Machine::add_items(Value& target, const std::vector<Ref>& items) {
    if (!target.is(Kind::List)) error(std::string("appending to a ") + kind_name(target.kind));
    target.items.insert(target.items.end(), items.begin(), items.end());
}

// Lists, tuples, dicts and sets (a set is kept as a list: nothing here looks inside one).
bool Machine::container(uint8_t op) {
    auto sequence = [&](Kind kind, std::vector<Ref> items) {
        Ref x = make(kind);
        x->items = std::move(items);
        push(x);
    };
    switch (op) {
        case '(': marks_.push_back(stack_.size()); return true;  // MARK
        case ']': case 0x8f: push(make(Kind::List)); return true;  // EMPTY_LIST, EMPTY_SET
        case '}': push(make(Kind::Dict)); return true;           // EMPTY_DICT
        case ')': push(make(Kind::Tuple)); return true;          // EMPTY_TUPLE
        case 'l': sequence(Kind::List, pop_to_mark()); return true;   // LIST
        case 't': case 0x91: sequence(Kind::Tuple, pop_to_mark()); return true;  // TUPLE, FROZENSET
        case 0x85: case 0x86: case 0x87: {                        // TUPLE1..3
            std::vector<Ref> items(size_t(op - 0x84));
            for (size_t i = items.size(); i-- > 0;) items[i] = pop();
            sequence(Kind::Tuple, std::move(items));
            return true;
        }
        case 'a': {  // APPEND
            Ref v = pop();
            add_items(*top(), {v});
            return true;
        }
        case 'e': case 0x90: {  // APPENDS, ADDITEMS
            std::vector<Ref> items = pop_to_mark();
            add_items(*top(), items);
            return true;
        }
        case 'd': {  // DICT
            std::vector<Ref> items = pop_to_mark();
            if (items.size() % 2) error("DICT with an odd number of items");
            Ref x = make(Kind::Dict);
            for (size_t i = 0; i < items.size(); i += 2) set_item(*x, items[i], items[i + 1]);
            push(x);
            return true;
        }
        case 's': {  // SETITEM
            Ref v = pop(), k = pop();
            set_item(*top(), k, v);
            return true;
        }
        case 'u': {  // SETITEMS
            std::vector<Ref> items = pop_to_mark();
            if (items.size() % 2) error("SETITEMS with an odd number of items");
            for (size_t i = 0; i < items.size(); i += 2) set_item(*top(), items[i], items[i + 1]);
            return true;
        }
        default: return false;
    }
}

// The memo, and stack shuffling.
bool Machine::memo(uint8_t op) {
    auto put = [&](uint64_t i) { memo_[i] = top(); };
    auto get = [&](uint64_t i) {
        auto it = memo_.find(i);
        if (it == memo_.end()) error("memo entry " + std::to_string(i) + " was never stored");
        push(it->second);
    };
    switch (op) {
        case 'q': put(little(1)); return true;                   // BINPUT
        case 'r': put(little(4)); return true;                   // LONG_BINPUT
        case 'p': put(uint64_t(line_integer())); return true;    // PUT
        case 0x94: put(memo_.size()); return true;               // MEMOIZE
        case 'h': get(little(1)); return true;                   // BINGET
        case 'j': get(little(4)); return true;                   // LONG_BINGET
        case 'g': get(uint64_t(line_integer())); return true;    // GET
        case '0': pop(); return true;                            // POP
        case '1': pop_to_mark(); return true;                    // POP_MARK
        case '2': push(top()); return true;                      // DUP
        default: return false;
    }
}

Ref Machine::global(const std::string& module, const std::string& name) {
    const std::string full = module + "." + name;
    if (module == "torch" && name.ends_with("Storage") && !allowed_global(full))
        refuse("it holds a storage of type '" + full.substr(0, 80) + "', a dtype srforge does not read (it reads float16/32/64, "
              "bfloat16, uint8, int8/16/32/64 and bool)");
    if (!allowed_global(full))
        refuse("it names the Python object '" + full.substr(0, 120) +
               "', which a file of weights never needs: refused (srforge never runs a checkpoint's code; "
               "if it is a whole pickled model, save model.state_dict() instead)");
    Ref g = make(Kind::Global);
    g->text = full;
    return g;
}

// Objects: globals, calls of the allowed ones, BUILD, and persistent ids (storages).
bool Machine::object(uint8_t op) {
    switch (op) {
        case 'c': {  // GLOBAL
            const std::string module = line(), name = line();
            push(global(module, name));
            return true;
        }
        case 0x93: {  // STACK_GLOBAL
            Ref name = pop(), module = pop();
            if (!module->is(Kind::String) || !name->is(Kind::String)) error("STACK_GLOBAL of non-strings");
            push(global(module->text, name->text));
            return true;
        }
        case 'R': {  // REDUCE
            Ref args = pop(), callable = pop();
            push(reduce(*callable, *args));
            return true;
        }
        case 'b': {  // BUILD: the state of an OrderedDict (its _metadata) or a parameter; unused here
            Ref state = pop();
            (void)state;
            if (!top()->is(Kind::Dict) && !top()->is(Kind::Tensor)) error(std::string("BUILD on a ") + kind_name(top()->kind));
            return true;
        }
        case 'Q': {  // BINPERSID
            Ref pid = pop();
            push(persistent(*pid));
            return true;
        }
        default: return false;  // INST, OBJ, NEWOBJ, EXT*, PERSID, buffers: not in checkpoints
    }
}

const Value& Machine::arg(const std::vector<Ref>& args, size_t i, Kind kind, const char* what) {
    if (i >= args.size() || !args[i]->is(kind)) error(std::string("a tensor's ") + what + " is not a " + kind_name(kind));
    return *args[i];
}

std::vector<int64_t> integers(const Value& tuple, const char* what, const std::string& file) {
    std::vector<int64_t> out;
    for (Ref v : tuple.items) {
        SR_CHECK(v->is(Kind::Int) && v->integer >= 0, "'", file, "': a tensor's ", what, " holds a ", kind_name(v->kind),
                 v->is(Kind::Int) ? " below zero" : "", " (not a PyTorch checkpoint, or damaged)");
        out.push_back(v->integer);
    }
    return out;
}

// _rebuild_tensor(storage, offset, size, stride) and _rebuild_tensor_v2(..., requires_grad, hooks[, metadata]).
Ref Machine::rebuild_tensor(const std::vector<Ref>& args, bool v2) {
    if (args.size() < 4 || (v2 && (args.size() < 6 || args.size() > 7))) error("a tensor rebuild with the wrong number of arguments");
    Ref t = make(Kind::Tensor);
    if (!args[0]->is(Kind::Storage)) error("a tensor rebuild whose first argument is not a storage");
    t->storage = args[0];
    t->offset = arg(args, 1, Kind::Int, "storage offset").integer;
    if (t->offset < 0) error("a tensor with a negative storage offset");
    t->size = integers(arg(args, 2, Kind::Tuple, "size"), "size", what_);
    t->stride = integers(arg(args, 3, Kind::Tuple, "stride"), "stride", what_);
    if (t->size.size() != t->stride.size()) error("a tensor whose size and stride differ in length");
    return t;
}

Ref Machine::reduce(const Value& callable, const Value& args) {
    if (!callable.is(Kind::Global) || !args.is(Kind::Tuple)) error("a call of something other than an allowed global");
    const std::string& f = callable.text;
    if (f == "collections.OrderedDict") {
        if (!args.items.empty()) error("OrderedDict called with arguments");
        return make(Kind::Dict);
    }
    if (f == "collections.Counter") {  // Counter(dict): an LR scheduler's milestones, in a training state
        if (args.items.size() > 1 || (args.items.size() == 1 && !args.items[0]->is(Kind::Dict))) error("Counter of something other than a dict");
        return args.items.empty() ? make(Kind::Dict) : args.items[0];
    }
    if (f == "torch._utils._rebuild_tensor" || f == "torch._utils._rebuild_tensor_v2") return rebuild_tensor(args.items, f.ends_with("_v2"));
    if (f == "torch._utils._rebuild_parameter" || f == "torch._utils._rebuild_parameter_with_state") {
        if (args.items.empty() || !args.items[0]->is(Kind::Tensor)) error("a parameter rebuilt from something other than a tensor");
        return args.items[0];  // a parameter is its data here
    }
    if (f == "torch.Size") {
        if (args.items.size() != 1 || !args.items[0]->is(Kind::Tuple)) error("torch.Size of something other than a tuple");
        return args.items[0];
    }
    if (f == "_codecs.encode") {  // how protocol 2 writes bytes: encode(text, 'latin1')
        if (args.items.empty() || !args.items[0]->is(Kind::String)) error("_codecs.encode of something other than a string");
        Ref out = make(Kind::Bytes);
        out->text = args.items[0]->text;
        return out;
    }
    error("'" + f + "' is not something a checkpoint calls");  // the storage classes are never called
}

// ('storage', torch.FloatStorage, key, location, numel[, view_metadata]).
Ref Machine::persistent(const Value& pid) {
    const bool shape_ok = pid.is(Kind::Tuple) && (pid.items.size() == 5 || pid.items.size() == 6) && pid.items[0]->is(Kind::String) &&
                          pid.items[0]->text == "storage" && pid.items[1]->is(Kind::Global) && pid.items[2]->is(Kind::String) &&
                          pid.items[4]->is(Kind::Int) && pid.items[4]->integer >= 0;
    if (!shape_ok) error("a persistent id that is not a storage reference");
    if (pid.items.size() == 6 && !pid.items[5]->is(Kind::None)) error("a storage view (PyTorch before 0.4), which srforge does not read");
    const std::string type = pid.items[1]->text.substr(6);  // "torch.FloatStorage" -> "FloatStorage"
    if (!storage_types().count(type)) error("a storage of type '" + pid.items[1]->text + "'");
    Ref& s = storages_[pid.items[2]->text];
    if (s) {
        if (s->storage_type != type || s->storage_numel != pid.items[4]->integer) error("storage '" + pid.items[2]->text + "' described twice, differently");
        return s;
    }
    s = make(Kind::Storage);
    s->storage_type = type;
    s->storage_key = pid.items[2]->text;
    s->storage_numel = pid.items[4]->integer;
    return s;
}

}  // namespace

const Value* Value::find(const std::string& key) const {
    if (!is(Kind::Dict)) return nullptr;
    auto it = index.find(std::string(1, 's').append(key));
    return it == index.end() ? nullptr : items[it->second];
}

const Value* Value::find(int64_t key) const {
    if (!is(Kind::Dict)) return nullptr;
    auto it = index.find(std::string(1, 'i').append(std::to_string(key)));
    return it == index.end() ? nullptr : items[it->second];
}

Pickle load(const std::string& bytes, size_t* pos, const std::string& what) {
    SR_CHECK(*pos <= bytes.size(), "'", what, "': a pickle starts past the end of the file");
    return Machine(bytes, *pos, what).run(pos);
}

}  // namespace sr::pickle
