#include "core/file.h"

#include <atomic>
#include <cerrno>
#include <fcntl.h>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "core/error.h"

namespace sr {

std::string read_file(const std::string& path) {
    std::error_code ec;
    SR_CHECK(!std::filesystem::is_directory(path, ec), "cannot read '", path, "': it is a directory");
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

}  // namespace sr
