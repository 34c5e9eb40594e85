// core/tb_events: CRC-32C, the TFRecord framing (both masked CRCs of every record), and each record
// decoded by the real protobuf library against TensorFlow's Event schema (tests/proto); write
// failures (a directory that cannot be made, a full disk, a write cut short) are sr::Errors.
#include <doctest/doctest.h>

#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>
#include <sys/resource.h>
#include <unistd.h>
#include <vector>

#include "core/file.h"
#include "core/tb_events.h"
#include "tb_event.pb.h"
#include "test_util.h"

using namespace sr;
namespace fs = std::filesystem;

namespace {

// An empty directory of its own for each test.
std::string fresh_dir(const std::string& name) {
    const fs::path dir = fs::temp_directory_path() / "srforge_test_tb_events" / name;
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir.string();
}

std::string only_file_in(const std::string& dir) {
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir)) files.push_back(entry.path());
    REQUIRE(files.size() == 1);
    return files[0].string();
}

// Written out here from the format's description, not taken from core/tb_events.cpp.
uint32_t masked(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

uint64_t little_endian(const std::string& bytes, size_t at, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(bytes[at + i]);
    return v;
}

// The records of a TFRecord file, each one's length and data CRC checked; the file must end
// exactly where its last record does.
std::vector<std::string> read_records(const std::string& path) {
    const std::string bytes = read_file(path);
    std::vector<std::string> records;
    size_t at = 0;
    while (at < bytes.size()) {
        REQUIRE(bytes.size() - at >= 12);
        const uint64_t length = little_endian(bytes, at, 8);
        CHECK(little_endian(bytes, at + 8, 4) == masked(crc32c(bytes.data() + at, 8)));
        REQUIRE(bytes.size() - at - 12 >= length + 4);
        const std::string data = bytes.substr(at + 12, length);
        CHECK(little_endian(bytes, at + 12 + length, 4) == masked(crc32c(data.data(), data.size())));
        records.push_back(data);
        at += 12 + length + 4;
    }
    return records;
}

bool no_unknown_fields(const google::protobuf::Message& m) { return m.GetReflection()->GetUnknownFields(m).empty(); }

// One record as protobuf reads it. Fields we numbered wrongly would land among the unknown ones,
// and protobuf serializing the message back to our exact bytes says the encoding is canonical.
tensorflow::Event decode(const std::string& record) {
    tensorflow::Event event;
    REQUIRE(event.ParseFromString(record));
    CHECK(no_unknown_fields(event));
    CHECK(event.SerializeAsString() == record);
    return event;
}

void check_file_version(const tensorflow::Event& e) {
    CHECK(e.what_case() == tensorflow::Event::kFileVersion);
    CHECK(e.file_version() == "brain.Event:2");
    CHECK(e.step() == 0);
}

void check_scalar(const tensorflow::Event& e, const std::string& tag, float value, int64_t step, double wall_time) {
    REQUIRE(e.what_case() == tensorflow::Event::kSummary);
    CHECK(no_unknown_fields(e.summary()));
    REQUIRE(e.summary().value_size() == 1);
    const tensorflow::Summary::Value& v = e.summary().value(0);
    CHECK(no_unknown_fields(v));
    CHECK(v.tag() == tag);
    CHECK(v.value_case() == tensorflow::Summary::Value::kSimpleValue);
    CHECK(v.simple_value() == value);
    CHECK(e.step() == step);
    CHECK(e.wall_time() == wall_time);
}

std::string host_name() {
    char name[256] = {};
    REQUIRE(::gethostname(name, sizeof(name) - 1) == 0);
    return name;
}

// Lowers the process's file size limit for one test, with SIGXFSZ ignored so that a write past the
// limit fails with EFBIG instead of killing the test run.
class FileSizeLimit {
public:
    explicit FileSizeLimit(rlim_t bytes) {
        REQUIRE(::getrlimit(RLIMIT_FSIZE, &saved_) == 0);
        old_handler_ = std::signal(SIGXFSZ, SIG_IGN);
        rlimit lowered = saved_;
        lowered.rlim_cur = bytes;
        REQUIRE(::setrlimit(RLIMIT_FSIZE, &lowered) == 0);
    }
    ~FileSizeLimit() {
        ::setrlimit(RLIMIT_FSIZE, &saved_);
        std::signal(SIGXFSZ, old_handler_);
    }
    FileSizeLimit(const FileSizeLimit&) = delete;
    FileSizeLimit& operator=(const FileSizeLimit&) = delete;

private:
    rlimit saved_{};
    void (*old_handler_)(int) = SIG_DFL;
};

}  // namespace

TEST_CASE("crc32c gives the standard check value and RFC 3720's test vectors") {
    CHECK(crc32c("123456789", 9) == 0xE3069283u);
    CHECK(crc32c("", 0) == 0u);
    const std::string zeros(32, '\0'), ones(32, '\xFF');
    std::string ascending(32, '\0');
    for (int i = 0; i < 32; ++i) ascending[i] = static_cast<char>(i);
    CHECK(crc32c(zeros.data(), 32) == 0x8A9136AAu);
    CHECK(crc32c(ones.data(), 32) == 0x62A8AB43u);
    CHECK(crc32c(ascending.data(), 32) == 0x46DD794Eu);
}

TEST_CASE("an event file is named as TensorFlow names it and holds file_version, then one Event per scalar") {
    const std::string dir = fresh_dir("scalars") + "/tb_logger/run";  // nested, not there yet
    const double before = unix_seconds_now();
    TensorBoardWriter tb(dir);
    tb.add_scalar("losses/l_pix", 0.0213, 100, 1700000000.25);
    tb.add_scalar("metrics/psnr", 28.5, 100, 1700000000.5);
    tb.add_scalar("losses/l_pix", 0.0187, 200, 1700000100.75);
    tb.add_scalar("lr", 2e-4, 200);  // wall time now
    tb.flush();
    const double after = unix_seconds_now();

    // Read while the writer is still open: a run killed here has left all of this behind.
    const std::string path = only_file_in(dir);
    CHECK(path == tb.path());
    const std::string name = fs::path(path).filename().string();
    const std::string prefix = "events.out.tfevents.";
    REQUIRE(name.size() == prefix.size() + 10 + 1 + host_name().size());
    CHECK(name.substr(0, prefix.size()) == prefix);
    const double seconds = std::stod(name.substr(prefix.size(), 10));
    CHECK(seconds >= std::floor(before));
    CHECK(seconds <= after);
    CHECK(name[prefix.size() + 10] == '.');
    CHECK(name.substr(prefix.size() + 11) == host_name());

    const std::vector<std::string> records = read_records(path);
    REQUIRE(records.size() == 5);
    const tensorflow::Event first = decode(records[0]);
    check_file_version(first);
    CHECK(first.wall_time() >= before);
    CHECK(first.wall_time() <= after);
    check_scalar(decode(records[1]), "losses/l_pix", 0.0213f, 100, 1700000000.25);
    check_scalar(decode(records[2]), "metrics/psnr", 28.5f, 100, 1700000000.5);
    check_scalar(decode(records[3]), "losses/l_pix", 0.0187f, 200, 1700000100.75);
    const tensorflow::Event lr = decode(records[4]);
    check_scalar(lr, "lr", 2e-4f, 200, lr.wall_time());
    CHECK(lr.wall_time() >= before);
    CHECK(lr.wall_time() <= after);
}

TEST_CASE("each flush leaves a file that reads to its end; the destructor writes what is still queued") {
    const std::string path = fresh_dir("flush") + "/events.out.tfevents.test";
    {
        TensorBoardWriter tb = TensorBoardWriter::to_file(path);
        CHECK(read_records(path).size() == 1);  // file_version is on disk from the start
        tb.add_scalar("a", 1, 1, 10);
        CHECK(read_records(path).size() == 1);  // queued, not written
        tb.flush();
        CHECK(read_records(path).size() == 2);
        tb.add_scalar("a", 2, 2, 20);
        tb.add_scalar("b", 3, 2, 20);
        TensorBoardWriter moved(std::move(tb));  // the queue moves with it, and is written once
    }
    const std::vector<std::string> records = read_records(path);
    REQUIRE(records.size() == 4);
    check_scalar(decode(records[3]), "b", 3, 2, 20);
}

TEST_CASE("steps and values at the edges of their types survive the round trip") {
    const std::string path = fresh_dir("edges") + "/events.out.tfevents.test";
    {
        TensorBoardWriter tb = TensorBoardWriter::to_file(path);
        tb.add_scalar("zero", 0.0, 0, 1.5);  // proto3 leaves step 0 out; simple_value 0 stays set
        tb.add_scalar("negative step", -1.25, -7, 2.5);
        tb.add_scalar("largest step", 1, std::numeric_limits<int64_t>::max(), 3.5);
        tb.add_scalar("too big for float", 1e300, 1, 4.5);
        tb.add_scalar("too small for float", -1e300, 1, 4.5);
        tb.add_scalar("nan", std::nan(""), 1, 4.5);
        tb.add_scalar("unicode tag: \xce\xb1/\xe2\x88\x82", 0.5, 1, 0.0);  // wall time 0 is left out too
    }
    const std::vector<std::string> r = read_records(path);
    REQUIRE(r.size() == 8);
    check_scalar(decode(r[1]), "zero", 0.0f, 0, 1.5);
    check_scalar(decode(r[2]), "negative step", -1.25f, -7, 2.5);
    check_scalar(decode(r[3]), "largest step", 1.0f, std::numeric_limits<int64_t>::max(), 3.5);
    check_scalar(decode(r[4]), "too big for float", std::numeric_limits<float>::infinity(), 1, 4.5);
    check_scalar(decode(r[5]), "too small for float", -std::numeric_limits<float>::infinity(), 1, 4.5);
    CHECK(std::isnan(decode(r[6]).summary().value(0).simple_value()));
    check_scalar(decode(r[7]), "unicode tag: \xce\xb1/\xe2\x88\x82", 0.5f, 1, 0.0);
}

TEST_CASE("writing to an existing event file appends and leaves its records intact") {
    const std::string path = fresh_dir("append") + "/events.out.tfevents.test";
    {
        TensorBoardWriter tb = TensorBoardWriter::to_file(path);
        tb.add_scalar("first run", 1, 1, 1);
    }
    {
        TensorBoardWriter tb = TensorBoardWriter::to_file(path);
        tb.add_scalar("second run", 2, 2, 2);
    }
    const std::vector<std::string> r = read_records(path);
    REQUIRE(r.size() == 4);
    check_file_version(decode(r[0]));
    check_scalar(decode(r[1]), "first run", 1, 1, 1);
    check_file_version(decode(r[2]));
    check_scalar(decode(r[3]), "second run", 2, 2, 2);
}

TEST_CASE("a log directory that cannot be created is an sr::Error naming it") {
    const std::string blocker = fresh_dir("no_dir") + "/a_file";
    write_file_atomic(blocker, "not a directory");
    const std::string dir = blocker + "/tb_logger";
    const std::string message = error_of([&] { TensorBoardWriter tb(dir); });
    CHECK(message.find("cannot create log directory '" + dir + "'") != std::string::npos);
    CHECK(error_of([] { TensorBoardWriter tb(""); }).find("log directory name is empty") != std::string::npos);
}

TEST_CASE("a file that cannot be opened is an sr::Error naming it") {
    const std::string dir = fresh_dir("no_open");  // a directory where the file should be
    const std::string message = error_of([&] { (void)TensorBoardWriter::to_file(dir); });
    CHECK(message.find("cannot open '" + dir + "'") != std::string::npos);
}

TEST_CASE("a full disk is an sr::Error naming the file" * doctest::skip(!fs::exists("/dev/full"))) {
    const std::string message = error_of([] { (void)TensorBoardWriter::to_file("/dev/full"); });
    CHECK(message.find("cannot write '/dev/full'") != std::string::npos);
    CHECK(message.find(std::strerror(ENOSPC)) != std::string::npos);
}

TEST_CASE("a write cut short is taken back, reported, and done by the next flush") {
    const std::string path = fresh_dir("cut_short") + "/events.out.tfevents.test";
    TensorBoardWriter tb = TensorBoardWriter::to_file(path);
    const auto size_before = fs::file_size(path);
    tb.add_scalar("losses/l_pix", 0.5, 1, 1);
    tb.add_scalar("losses/l_pix", 0.25, 2, 2);
    {
        const FileSizeLimit limit(size_before + 20);  // room for part of the first record only
        const std::string message = error_of([&] { tb.flush(); });
        CHECK(message.find("cannot write '" + path + "'") != std::string::npos);
        CHECK(message.find(std::strerror(EFBIG)) != std::string::npos);
        CHECK(fs::file_size(path) == size_before);  // no torn record left in the file
    }
    tb.flush();
    const std::vector<std::string> r = read_records(path);
    REQUIRE(r.size() == 3);
    check_scalar(decode(r[1]), "losses/l_pix", 0.5f, 1, 1);
    check_scalar(decode(r[2]), "losses/l_pix", 0.25f, 2, 2);
}

TEST_CASE("a scalar without a tag is an sr::Error") {
    TensorBoardWriter tb = TensorBoardWriter::to_file(fresh_dir("no_tag") + "/events.out.tfevents.test");
    CHECK(error_of([&] { tb.add_scalar("", 1, 5); }).find("add_scalar needs a tag") != std::string::npos);
}
