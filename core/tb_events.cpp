#include "core/tb_events.h"

#include <array>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <limits>
#include <unistd.h>
#include <utility>

#include "core/error.h"

namespace sr {

// ---- CRC-32C ----------------------------------------------------------------------------------

namespace {

constexpr std::array<uint32_t, 256> make_crc32c_table() {
    std::array<uint32_t, 256> table{};
    for (uint32_t byte = 0; byte < 256; ++byte) {
        uint32_t crc = byte;
        for (int bit = 0; bit < 8; ++bit) crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
        table[byte] = crc;
    }
    return table;
}

constexpr std::array<uint32_t, 256> kCrc32cTable = make_crc32c_table();

// TFRecords store the CRC rotated and offset: a CRC computed over data that itself contains CRCs
// would otherwise be weak (the reason given in TensorFlow's crc32c.h).
uint32_t masked_crc32c(const std::string& bytes) {
    const uint32_t crc = crc32c(bytes.data(), bytes.size());
    return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

}  // namespace

uint32_t crc32c(const void* data, size_t size) {
    const auto* p = static_cast<const unsigned char*>(data);
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < size; ++i) crc = kCrc32cTable[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    return crc ^ 0xFFFFFFFFu;
}

double unix_seconds_now() {
    const auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
    return std::chrono::duration<double>(since_epoch).count();
}

// ---- protobuf wire format, just what Event needs ------------------------------------------------

namespace {

// Field numbers of tensorflow.Event (tensorflow/core/util/event.proto) and tensorflow.Summary
// (tensorflow/core/framework/summary.proto); TensorBoard's copies under compat/proto agree.
constexpr int kEventWallTime = 1;     // double
constexpr int kEventStep = 2;         // int64
constexpr int kEventFileVersion = 3;  // string, in oneof `what`
constexpr int kEventSummary = 5;      // Summary, in oneof `what`
constexpr int kSummaryValue = 1;      // repeated Summary.Value
constexpr int kValueTag = 1;          // string
constexpr int kValueSimpleValue = 2;  // float, in oneof `value`

enum class Wire : uint64_t { Varint = 0, Fixed64 = 1, LengthDelimited = 2, Fixed32 = 5 };

void put_varint(std::string& out, uint64_t v) {
    for (; v >= 0x80; v >>= 7) out += static_cast<char>((v & 0x7F) | 0x80);
    out += static_cast<char>(v);
}

void put_little_endian(std::string& out, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
}

void put_key(std::string& out, int field, Wire wire) {
    put_varint(out, (static_cast<uint64_t>(field) << 3) | static_cast<uint64_t>(wire));
}

void put_double(std::string& out, int field, double v) {
    put_key(out, field, Wire::Fixed64);
    put_little_endian(out, std::bit_cast<uint64_t>(v), 8);
}

void put_float(std::string& out, int field, float v) {
    put_key(out, field, Wire::Fixed32);
    put_little_endian(out, std::bit_cast<uint32_t>(v), 4);
}

// int64 is a plain varint: a negative step takes ten bytes, as protobuf writes it.
void put_int64(std::string& out, int field, int64_t v) {
    put_key(out, field, Wire::Varint);
    put_varint(out, static_cast<uint64_t>(v));
}

void put_bytes(std::string& out, int field, const std::string& bytes) {
    put_key(out, field, Wire::LengthDelimited);
    put_varint(out, bytes.size());
    out += bytes;
}

// Proto3 leaves out fields holding their default; doing the same keeps our bytes identical to
// what protobuf (and TensorFlow) serialize for the same Event.
std::string event_with_time(double wall_time, int64_t step) {
    std::string event;
    if (std::bit_cast<uint64_t>(wall_time) != 0) put_double(event, kEventWallTime, wall_time);
    if (step != 0) put_int64(event, kEventStep, step);
    return event;
}

std::string file_version_event(double wall_time) {
    std::string event = event_with_time(wall_time, 0);
    put_bytes(event, kEventFileVersion, "brain.Event:2");
    return event;
}

// A double outside float's range converts with undefined behaviour; a diverged loss should show
// up as inf in TensorBoard instead.
float to_float32(double v) {
    constexpr double kMax = std::numeric_limits<float>::max();
    if (v > kMax) return std::numeric_limits<float>::infinity();
    if (v < -kMax) return -std::numeric_limits<float>::infinity();
    return static_cast<float>(v);
}

std::string scalar_event(const std::string& tag, double value, int64_t step, double wall_time) {
    std::string summary_value;
    put_bytes(summary_value, kValueTag, tag);
    put_float(summary_value, kValueSimpleValue, to_float32(value));
    std::string summary;
    put_bytes(summary, kSummaryValue, summary_value);
    std::string event = event_with_time(wall_time, step);
    put_bytes(event, kEventSummary, summary);
    return event;
}

// ---- TFRecord framing and the file ------------------------------------------------------------

void put_record(std::string& out, const std::string& data) {
    std::string length;
    put_little_endian(length, data.size(), 8);
    out += length;
    put_little_endian(out, masked_crc32c(length), 4);
    out += data;
    put_little_endian(out, masked_crc32c(data), 4);
}

std::string host_name() {
    char name[256] = {};
    if (::gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "localhost";
    return name;
}

// DIR/events.out.tfevents.<10-digit unix seconds>.<hostname>, as TensorFlow's EventsWriter names
// it; TensorBoard finds event files by the "tfevents" in their name.
std::string event_file_in(const std::string& dir) {
    SR_CHECK(!dir.empty(), "tensorboard: the log directory name is empty");
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    SR_CHECK(!ec, "tensorboard: cannot create log directory '", dir, "': ", ec.message());
    char seconds[32];
    std::snprintf(seconds, sizeof(seconds), "%010lld", static_cast<long long>(unix_seconds_now()));
    return (std::filesystem::path(dir) / ("events.out.tfevents." + std::string(seconds) + "." + host_name())).string();
}

// 0, or the errno of the write that failed; `written` counts the bytes that reached the file
// before it. Loops because write() may take only part of a buffer.
int write_all(int fd, const std::string& bytes, size_t& written) {
    written = 0;
    while (written < bytes.size()) {
        const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return n < 0 ? errno : EIO;
        written += static_cast<size_t>(n);
    }
    return 0;
}

}  // namespace

TensorBoardWriter::TensorBoardWriter(const std::string& dir) : TensorBoardWriter(OpenFile{}, event_file_in(dir)) {}

TensorBoardWriter TensorBoardWriter::to_file(const std::string& file) { return TensorBoardWriter(OpenFile{}, file); }

// Append-only: records already in the file, from this run or an earlier one, are never touched.
TensorBoardWriter::TensorBoardWriter(OpenFile, const std::string& file) : path_(file) {
    fd_ = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    SR_CHECK(fd_ >= 0, "tensorboard: cannot open '", file, "' for writing: ", std::strerror(errno));
    put_record(pending_, file_version_event(unix_seconds_now()));
    try {
        flush();
    } catch (const Error&) {
        ::close(fd_);  // no destructor runs for a constructor that throws
        throw;
    }
}

TensorBoardWriter::TensorBoardWriter(TensorBoardWriter&& other) noexcept
    : path_(std::move(other.path_)), fd_(other.fd_), pending_(std::move(other.pending_)) {
    other.fd_ = -1;
    other.pending_.clear();
}

TensorBoardWriter::~TensorBoardWriter() {
    if (fd_ < 0) return;
    try {
        flush();
    } catch (const Error&) {
        // Nowhere to report it from here; the header tells callers to flush() themselves.
    }
    ::close(fd_);
}

void TensorBoardWriter::add_scalar(const std::string& tag, double value, int64_t step, double wall_time) {
    SR_CHECK(!tag.empty(), "tensorboard: add_scalar needs a tag, got an empty one (step ", step, ")");
    put_record(pending_, scalar_event(tag, value, step, wall_time));
}

// All queued records or none: after a failed write the file is cut back to where it ended, since a
// torn record in the middle would hide every later one from readers, and the records stay queued
// for the next flush.
void TensorBoardWriter::flush() {
    if (pending_.empty()) return;
    const off_t end = ::lseek(fd_, 0, SEEK_END);
    size_t written = 0;
    const int err = write_all(fd_, pending_, written);
    if (err == 0) {
        pending_.clear();
        return;
    }
    const bool torn = written > 0 && !(end >= 0 && ::ftruncate(fd_, end) == 0);
    fail("tensorboard: cannot write '", path_, "': ", std::strerror(err),
         torn ? " (and cannot cut off the partial record it left)" : "");
}

}  // namespace sr
