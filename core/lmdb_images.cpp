#include "core/lmdb_images.h"

#include <lmdb.h>

#include <charconv>
#include <filesystem>
#include <string_view>
#include <unordered_map>

#include "core/error.h"
#include "core/file.h"
#include "core/image_io.h"

namespace sr {

namespace fs = std::filesystem;

// ---- meta_info.txt ----------------------------------------------------------------------------

namespace {

constexpr const char* kMetaFormat = "expected 'NAME (H,W,C) LEVEL' as BasicSR writes it, e.g. '0001_s001.png (480,480,3) 1'";

std::string_view trim(std::string_view s) {
    const size_t first = s.find_first_not_of(" \t\r");
    if (first == std::string_view::npos) return {};
    return s.substr(first, s.find_last_not_of(" \t\r") - first + 1);
}

// The line as an error quotes it: printable ASCII only, and short, since a fuzzer or a binary
// file passed by mistake can put anything on a "line".
std::string excerpt(std::string_view line) {
    constexpr size_t kMax = 80;
    std::string out;
    for (char ch : line.substr(0, kMax)) out += ch >= 0x20 && ch < 0x7f ? ch : '?';
    if (line.size() > kMax) out += "...";
    return out;
}

[[noreturn]] void bad_line(const std::string& what, size_t line_no, std::string_view line, const std::string& problem) {
    fail("lmdb: '", what, "' line ", line_no, ": ", problem, " in '", excerpt(line), "'; ", kMetaFormat);
}

// The whole of `s` (spaces around it allowed) as a decimal int; false for anything else,
// including a number too large for an int.
bool parse_int(std::string_view s, int& out) {
    s = trim(s);
    const char* end = s.data() + s.size();
    const auto [stop, ec] = std::from_chars(s.data(), end, out);
    return !s.empty() && ec == std::errc() && stop == end;
}

// The name without its extension, as Python's os.path.splitext takes it off: from the last '.'
// of the last path component, unless the component's leading dots are the only ones. BasicSR's
// own reader keys on line.split('.')[0], which agrees for every key without a '.' in it and is
// wrong (reads a key nobody wrote) for those with one; this one reads back what the writer put.
std::string_view without_extension(std::string_view name) {
    const size_t slash = name.rfind('/');
    const size_t start = slash == std::string_view::npos ? 0 : slash + 1;
    const size_t first = name.find_first_not_of('.', start);
    const size_t dot = name.rfind('.');
    if (dot == std::string_view::npos || first == std::string_view::npos || dot < first) return name;
    return name.substr(0, dot);
}

// "NAME (H,W,C) LEVEL". The shape is found from the right (the last '('), so a NAME with spaces
// or parentheses of its own, like "img (1).png", still parses.
LmdbMetaEntry parse_meta_line(std::string_view line, const std::string& what, size_t line_no) {
    const size_t open = line.rfind('(');
    if (open == std::string_view::npos) bad_line(what, line_no, line, "no shape '(H,W,C)'");
    const size_t close = line.find(')', open);
    if (close == std::string_view::npos) bad_line(what, line_no, line, "the shape has no ')'");
    const std::string_view name = trim(line.substr(0, open));
    if (name.empty()) bad_line(what, line_no, line, "no image name before the shape");

    LmdbMetaEntry e;
    e.key = std::string(without_extension(name));
    std::string_view shape = line.substr(open + 1, close - open - 1);
    int* dims[] = {&e.h, &e.w, &e.c};
    for (int i = 0; i < 3; ++i) {
        const size_t comma = shape.find(',');
        const bool last = i == 2;
        if (last != (comma == std::string_view::npos) || !parse_int(shape.substr(0, comma), *dims[i]))
            bad_line(what, line_no, line, "the shape must be three integers (H,W,C)");
        if (!last) shape = shape.substr(comma + 1);
    }
    if (e.h <= 0 || e.w <= 0) bad_line(what, line_no, line, "height and width must be positive");
    if (e.c < 1 || e.c > 4) bad_line(what, line_no, line, "channels must be 1 to 4");

    const std::string_view level = trim(line.substr(close + 1));
    if (!level.empty() && (!parse_int(level, e.compression) || e.compression < 0))
        bad_line(what, line_no, line, "the compression level must be a non-negative integer");
    return e;
}

}  // namespace

std::vector<LmdbMetaEntry> parse_lmdb_meta_info(const std::string& text, const std::string& what) {
    std::vector<LmdbMetaEntry> entries;
    std::unordered_map<std::string, size_t> line_of_key;  // a key listed twice would be trained on twice
    size_t line_no = 0;
    for (size_t begin = 0; begin < text.size();) {
        size_t end = text.find('\n', begin);
        if (end == std::string::npos) end = text.size();
        const std::string_view line = trim(std::string_view(text).substr(begin, end - begin));
        begin = end + 1;
        ++line_no;
        if (line.empty()) continue;  // the writer ends every line with '\n'; blank lines carry nothing
        LmdbMetaEntry e = parse_meta_line(line, what, line_no);
        const auto [first, fresh] = line_of_key.emplace(e.key, line_no);
        if (!fresh)
            bad_line(what, line_no, line, "key '" + excerpt(e.key) + "' again (first on line " + std::to_string(first->second) + ")");
        entries.push_back(std::move(e));
    }
    return entries;
}

// ---- the database -----------------------------------------------------------------------------

namespace {

// A read-only transaction, aborted (freed) when it goes out of scope. Under MDB_NOLOCK a read
// transaction takes no reader slot and keeps nothing in thread-local storage: it is a private
// snapshot of the newest meta page, so any number of threads can each hold one on the same
// environment, and MDB_NOTLS (which ties reader slots to transactions instead of threads) has
// nothing to do.
class ReadTxn {
public:
    ReadTxn(MDB_env* env, const std::string& folder) {
        const int rc = mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn_);
        SR_CHECK(rc == 0, "lmdb: cannot read '", folder, "': ", mdb_strerror(rc));
    }
    ~ReadTxn() { mdb_txn_abort(txn_); }
    ReadTxn(const ReadTxn&) = delete;
    ReadTxn& operator=(const ReadTxn&) = delete;

    MDB_txn* get() const { return txn_; }

private:
    MDB_txn* txn_ = nullptr;
};

void check_lmdb_folder(const std::string& folder) {
    std::error_code ec;
    const fs::file_status st = fs::status(folder, ec);
    SR_CHECK(fs::exists(st), "lmdb: no folder '", folder, "'");
    SR_CHECK(fs::is_directory(st), "lmdb: '", folder,
             "' is not a folder; a BasicSR LMDB is a folder NAME.lmdb holding data.mdb and meta_info.txt");
    const fs::path data = fs::path(folder) / "data.mdb";
    SR_CHECK(fs::exists(data, ec), "lmdb: '", folder, "' is not an LMDB folder: it has no data.mdb");
    // liblmdb takes an empty file for a new database and, opened read-only, fails to initialise it
    // with a baffling "Bad file descriptor". (A size that cannot be read is -1 here, and left to
    // mdb_env_open to report.)
    SR_CHECK(fs::file_size(data, ec) != 0, "lmdb: '", data.string(), "' is empty, not an LMDB database");
}

// A truncated data.mdb (an interrupted copy) opens without complaint, since only its first two
// pages are read then, and would die of SIGBUS at the first read of a page past its end. The
// newest meta page says which page is the last in use; the file must reach it.
void check_not_truncated(MDB_env* env, const std::string& data_path) {
    MDB_envinfo info;
    MDB_stat stat;
    SR_CHECK(mdb_env_info(env, &info) == 0 && mdb_env_stat(env, &stat) == 0, "lmdb: cannot read the header of '", data_path, "'");
    const uint64_t needed = (uint64_t(info.me_last_pgno) + 1) * stat.ms_psize;
    std::error_code ec;
    const uint64_t have = fs::file_size(data_path, ec);
    SR_CHECK(!ec && have >= needed, "lmdb: '", data_path, "' is truncated: it has ", have, " bytes, its pages need ", needed);
}

// The main (unnamed) database, the only one BasicSR writes. mdb_dbi_open's handle outlives its
// transaction only if that transaction commits (lmdb.h), so this one commits rather than aborts.
MDB_dbi open_main_db(MDB_env* env, const std::string& folder) {
    MDB_txn* txn = nullptr;
    int rc = mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn);
    SR_CHECK(rc == 0, "lmdb: cannot read '", folder, "': ", mdb_strerror(rc));
    MDB_dbi dbi = 0;
    rc = mdb_dbi_open(txn, nullptr, 0, &dbi);
    if (rc != 0) {
        mdb_txn_abort(txn);
        fail("lmdb: cannot open the database in '", folder, "': ", mdb_strerror(rc));
    }
    rc = mdb_txn_commit(txn);  // frees txn, also on failure
    SR_CHECK(rc == 0, "lmdb: cannot open the database in '", folder, "': ", mdb_strerror(rc));
    return dbi;
}

// Every key, in LMDB's order (bytewise, shorter first on a tie).
std::vector<std::string> all_keys(MDB_env* env, MDB_dbi dbi, const std::string& folder) {
    const ReadTxn txn(env, folder);
    MDB_cursor* raw = nullptr;
    int rc = mdb_cursor_open(txn.get(), dbi, &raw);
    SR_CHECK(rc == 0, "lmdb: cannot list the keys of '", folder, "': ", mdb_strerror(rc));
    // A read-only transaction's cursor must be closed by hand, before the transaction ends.
    const std::unique_ptr<MDB_cursor, void (*)(MDB_cursor*)> cursor(raw, mdb_cursor_close);
    std::vector<std::string> keys;
    MDB_val key, value;
    while ((rc = mdb_cursor_get(cursor.get(), &key, &value, MDB_NEXT)) == 0)
        keys.emplace_back(static_cast<const char*>(key.mv_data), key.mv_size);
    SR_CHECK(rc == MDB_NOTFOUND, "lmdb: cannot list the keys of '", folder, "': ", mdb_strerror(rc));
    return keys;
}

}  // namespace

void LmdbImages::EnvCloser::operator()(MDB_env* env) const { mdb_env_close(env); }

LmdbImages::LmdbImages(const std::string& folder) : folder_(folder) {
    check_lmdb_folder(folder);
    const std::string data_path = (fs::path(folder) / "data.mdb").string();
    MDB_env* env = nullptr;
    int rc = mdb_env_create(&env);
    SR_CHECK(rc == 0, "lmdb: cannot open '", folder, "': ", mdb_strerror(rc));
    env_.reset(env);  // closed by EnvCloser also when opening fails, as lmdb.h asks
    // Read-only mapping, no lock file, no readahead (random reads of images): BasicSR's reader's
    // settings, and ones that need no write access anywhere in the folder.
    rc = mdb_env_open(env, folder.c_str(), MDB_RDONLY | MDB_NOLOCK | MDB_NORDAHEAD, 0);
    SR_CHECK(rc == 0, "lmdb: '", data_path, "' is not an LMDB database: ", mdb_strerror(rc));
    check_not_truncated(env, data_path);
    dbi_ = open_main_db(env, folder);

    const std::string meta_path = (fs::path(folder) / "meta_info.txt").string();
    std::error_code ec;
    if (!fs::exists(meta_path, ec)) {
        // BasicSR itself requires meta_info.txt; databases from other writers often lack it, and
        // LMDB's own order is the sorted order BasicSR's paired dataset would use anyway.
        keys_ = all_keys(env, dbi_, folder);
        return;
    }
    meta_ = parse_lmdb_meta_info(read_file(meta_path), meta_path);
    MDB_stat stat;
    SR_CHECK(mdb_env_stat(env, &stat) == 0, "lmdb: cannot read the header of '", data_path, "'");
    // Keys are unique (the parser checks), so more lines than entries means some key is missing:
    // say so now rather than at some later batch.
    SR_CHECK(meta_.size() <= stat.ms_entries, "lmdb: '", meta_path, "' lists ", meta_.size(), " images but '", data_path, "' holds ",
             stat.ms_entries, ": they do not belong together, or the database was not written to the end");
    keys_.reserve(meta_.size());
    for (const LmdbMetaEntry& e : meta_) keys_.push_back(e.key);
    for (size_t i = 0; i < meta_.size(); ++i) meta_index_[meta_[i].key] = i;
}

std::string LmdbImages::bytes(const std::string& key) const {
    const ReadTxn txn(env_.get(), folder_);
    MDB_val k{key.size(), const_cast<char*>(key.data())};  // liblmdb's API is not const-correct; it only reads k
    MDB_val v{0, nullptr};
    const int rc = mdb_get(txn.get(), dbi_, &k, &v);
    if (rc == MDB_NOTFOUND) {
        const std::string example = keys_.empty() ? std::string() : ", e.g. '" + excerpt(keys_.front()) + "'";
        fail("lmdb: no key '", excerpt(key), "' in '", folder_, "' (keys are image names without the extension", example, ")");
    }
    SR_CHECK(rc == 0, "lmdb: cannot read key '", excerpt(key), "' from '", folder_, "': ", mdb_strerror(rc));
    // Copied out: the value points into the map and is valid only while the transaction lives.
    return std::string(static_cast<const char*>(v.mv_data), v.mv_size);
}

Tensor LmdbImages::image(const std::string& key, int channels) const {
    return decode_image(bytes(key), folder_ + "[" + key + "]", channels);
}

const LmdbMetaEntry* LmdbImages::meta_of(const std::string& key) const {
    const auto it = meta_index_.find(key);
    return it == meta_index_.end() ? nullptr : &meta_[it->second];
}

}  // namespace sr
