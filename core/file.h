// Whole-file reads and atomic writes. A write goes to a temporary file beside the target, is
// flushed, then renamed over it: a crash or a full disk never leaves a half-written checkpoint or
// image in place of a good one.
#pragma once

#include <cstdint>
#include <string>

namespace sr {

// The file's bytes; a missing or unreadable file is an sr::Error naming it, and so are anything
// but a regular file (devices, FIFOs) and files over SR_MAX_INPUT_BYTES (default 16 GiB).
std::string read_file(const std::string& path);

// A limit from the environment variable `name` (a positive integer), or `fallback` when unset.
int64_t limit_from_environment(const char* name, int64_t fallback);

void write_file_atomic(const std::string& path, const std::string& bytes);

// The copy appears whole or not at all (write_file_atomic of the source's bytes).
void copy_file_atomic(const std::string& from, const std::string& to);

// Appends to a log file (metrics.csv); a failed or short write (a full disk) is an sr::Error.
void append_to_file(const std::string& path, const std::string& text);

// Removes the temporary files (NAME.tmp.PID.N) that write_file_atomic left in `dir` when its
// process was killed mid-write: those whose process no longer runs.
void remove_stale_temp_files(const std::string& dir);

// An exclusive lock on a folder (the file DIR/.lock), held while the object lives, so that two
// processes never use one run folder at once. A second FolderLock on the same folder, in this
// process or another, is an sr::Error naming `what` and the holder's pid. The kernel releases the
// lock when its process dies, however it dies.
class FolderLock {
public:
    FolderLock(const std::string& dir, const std::string& what);
    ~FolderLock();
    FolderLock(const FolderLock&) = delete;
    FolderLock& operator=(const FolderLock&) = delete;

private:
    int fd_ = -1;
};

}  // namespace sr
