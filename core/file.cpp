#include "core/file.h"

#include <atomic>
#include <cerrno>
#include <fcntl.h>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <csignal>
#include <cstdlib>
#include <sys/file.h>
#include <unistd.h>

#include "core/error.h"

namespace sr {

int64_t limit_from_environment(const char* name, int64_t fallback) {
    const char* text = std::getenv(name);
    if (!text || !*text) return fallback;
    char* end = nullptr;
    const long long v = std::strtoll(text, &end, 10);
    SR_CHECK(*end == 0 && v > 0, name, " must be a positive integer, got '", text, "'");
    return v;
}

std::string read_file(const std::string& path) {
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::file_status status = fs::status(path, ec);
    SR_CHECK(!fs::is_directory(status), "cannot read '", path, "': it is a directory");
    // A device or FIFO (/dev/zero, a pipe) could be read for ever: only regular files are inputs.
    SR_CHECK(!fs::exists(status) || fs::is_regular_file(status), "cannot read '", path,
             "': not a regular file (a device, FIFO or socket)");
    const int64_t limit = limit_from_environment("SR_MAX_INPUT_BYTES", int64_t(16) << 30);
    const uintmax_t size = fs::exists(status) ? fs::file_size(path, ec) : 0;
    SR_CHECK(ec || size <= uintmax_t(limit), "cannot read '", path, "': it has ", size, " bytes, more than the limit of ", limit,
             " (set SR_MAX_INPUT_BYTES to change it)");
    std::ifstream in(path, std::ios::binary);
    SR_CHECK(in.good(), "cannot open '", path, "': ", errno == ENOENT ? "no such file" : std::strerror(errno));
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    SR_CHECK(!in.bad(), "error reading '", path, "': ", std::strerror(errno));
    return bytes;
}

void write_file_atomic(const std::string& path, const std::string& bytes) {
    static std::atomic<uint64_t> counter{0};  // unique per write, also across threads
    const std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
    FILE* f = std::fopen(tmp.c_str(), "wb");
    SR_CHECK(f != nullptr, "cannot write '", path, "': ", std::strerror(errno));
    const bool written = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
    const bool flushed = std::fflush(f) == 0 && ::fsync(::fileno(f)) == 0;
    const int saved_errno = errno;
    const bool closed = std::fclose(f) == 0;
    if (!written || !flushed || !closed) {
        std::remove(tmp.c_str());
        fail("cannot write '", path, "': ", std::strerror(saved_errno));
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        const int e = errno;
        std::remove(tmp.c_str());
        fail("cannot write '", path, "': rename failed: ", std::strerror(e));
    }
    // Make the rename itself durable.
    const std::string dir = std::filesystem::path(path).parent_path().string();
    const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        ::fsync(fd);
        ::close(fd);
    }
}

void copy_file_atomic(const std::string& from, const std::string& to) { write_file_atomic(to, read_file(from)); }

void append_to_file(const std::string& path, const std::string& text) {
    FILE* f = std::fopen(path.c_str(), "ab");
    SR_CHECK(f != nullptr, "cannot write '", path, "': ", std::strerror(errno));
    const bool written = std::fwrite(text.data(), 1, text.size(), f) == text.size() && std::fflush(f) == 0;
    const int saved_errno = errno;
    const bool closed = std::fclose(f) == 0;
    SR_CHECK(written && closed, "cannot write '", path, "': ", std::strerror(saved_errno));
}

namespace {

// The pid in "NAME.tmp.PID.N", or 0 when the name is not one of write_file_atomic's.
pid_t temp_file_pid(const std::string& name) {
    const size_t at = name.rfind(".tmp.");
    if (at == std::string::npos) return 0;
    const std::string rest = name.substr(at + 5);  // "PID.N"
    const size_t dot = rest.find('.');
    if (dot == 0 || dot == std::string::npos || rest.find_first_not_of("0123456789.") != std::string::npos) return 0;
    return pid_t(std::strtol(rest.substr(0, dot).c_str(), nullptr, 10));
}

bool process_alive(pid_t pid) { return ::kill(pid, 0) == 0 || errno == EPERM; }

}  // namespace

void remove_stale_temp_files(const std::string& dir) {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
        const pid_t pid = temp_file_pid(entry.path().filename().string());
        if (pid > 0 && pid != ::getpid() && !process_alive(pid)) std::filesystem::remove(entry.path(), ec);
    }
}

FolderLock::FolderLock(const std::string& dir, const std::string& what) {
    const std::string path = (std::filesystem::path(dir) / ".lock").string();
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    SR_CHECK(fd_ >= 0, "cannot lock '", dir, "': ", std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
        char holder[32] = {0};
        const ssize_t n = ::pread(fd_, holder, sizeof holder - 1, 0);
        ::close(fd_);
        fd_ = -1;
        fail(what, " '", dir, "' is in use by another process", n > 0 ? " (pid " + std::string(holder, size_t(n)) + ")" : std::string(),
             ": wait for it to finish, or choose another name");
    }
    const std::string pid = std::to_string(::getpid());
    if (::ftruncate(fd_, 0) == 0) (void)!::pwrite(fd_, pid.data(), pid.size(), 0);
}

FolderLock::~FolderLock() {
    if (fd_ >= 0) ::close(fd_);  // releases the lock
}

}  // namespace sr
