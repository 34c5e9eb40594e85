// core/ I/O: safetensors (round trips, F16/BF16, every way a file can be broken), image files
// (8/16-bit PNG, JPEG, BMP; gray, gray+alpha, RGB, RGBA; corrupt and missing files), JSON.
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <stb_image_write.h>

#include "core/factory.h"
#include "core/file.h"
#include "core/image_io.h"
#include "core/json.h"
#include "core/safetensors.h"
#include "test_util.h"

using namespace sr;

namespace {

const std::string kFixtures = std::string(SR_SOURCE_DIR) + "/tests/fixtures";

std::string temp_path(const std::string& name) {
    const auto dir = std::filesystem::temp_directory_path() / "srforge_test_io";
    std::filesystem::create_directories(dir);
    return (dir / name).string();
}

// A safetensors file with a hand-written header and `data`.
std::string raw_file(const std::string& header, const std::string& data, uint64_t declared_len = UINT64_MAX) {
    std::string out(8, '\0');
    const uint64_t len = declared_len == UINT64_MAX ? header.size() : declared_len;
    std::memcpy(out.data(), &len, 8);
    return out + header + data;
}

std::string parse_error(const std::string& bytes) {
    return error_of([&] { (void)parse_safetensors(bytes, "t.safetensors"); });
}

}  // namespace

TEST_CASE("safetensors round trip keeps names, order, dtypes, shapes, values and metadata") {
    Generator gen(1);
    const Tensor a = uniform({2, 3, 4}, -5, 5, {}, &gen);
    const Tensor b = uniform({7}, -1, 1, {DType::F64}, &gen);
    const Tensor scalar = full({}, 3.5);
    const Tensor empty = zeros({0, 4});
    const Tensor strided = a.permute({2, 0, 1});  // written contiguously
    const std::string path = temp_path("roundtrip.safetensors");
    write_safetensors(path, {{"body.0.weight", a}, {"b", b}, {"scalar", scalar}, {"empty", empty}, {"perm", strided}},
                      {{"format", "pt"}, {"note", "quote \" and newline \n"}});
    const SafetensorsFile f = read_safetensors(path);
    REQUIRE(f.tensors.size() == 5);
    CHECK(f.tensors[0].first == "body.0.weight");
    CHECK(f.tensors[4].first == "perm");
    CHECK(f.at("b").dtype() == DType::F64);
    CHECK(to_vector(f.at("body.0.weight")) == to_vector(a));
    CHECK(to_vector(f.at("b")) == to_vector(b));
    CHECK(f.at("scalar").shape() == Shape{});
    CHECK(f.at("scalar").item() == 3.5);
    CHECK(f.at("empty").shape() == Shape{0, 4});
    CHECK(f.at("perm").shape() == Shape{4, 2, 3});
    CHECK(to_vector(f.at("perm")) == to_vector(strided.contiguous()));
    CHECK(f.metadata.at("note") == "quote \" and newline \n");
    CHECK(error_of([&] { (void)f.at("missing"); }) ==
          "safetensors: no tensor 'missing' (the file has: body.0.weight, b, scalar, empty, perm)");
    // The Python fixtures writer and this reader agree (the fixture file was read above too).
    CHECK(read_safetensors(kFixtures + "/ops.safetensors").metadata.count("torch") == 1);
}

TEST_CASE("safetensors F16, BF16 and U8 are read") {
    // F16: 1, -2, 65504 (max), 2^-24 (smallest subnormal), inf. BF16: 1, -0.5. U8: 0, 255.
    const uint16_t f16[] = {0x3C00, 0xC000, 0x7BFF, 0x0001, 0x7C00};
    const uint16_t bf16[] = {0x3F80, 0xBF00};
    std::string data(reinterpret_cast<const char*>(f16), sizeof f16);
    data.append(reinterpret_cast<const char*>(bf16), sizeof bf16);
    data += std::string("\x00\xff", 2);
    const std::string header = R"({"h":{"dtype":"F16","shape":[5],"data_offsets":[0,10]},)"
                               R"("b":{"dtype":"BF16","shape":[2],"data_offsets":[10,14]},)"
                               R"("u":{"dtype":"U8","shape":[1,2],"data_offsets":[14,16]}})";
    const SafetensorsFile f = parse_safetensors(raw_file(header, data), "t");
    const auto h = to_vector(f.at("h"));
    CHECK(f.at("h").dtype() == DType::F32);
    CHECK(h[0] == 1.0);
    CHECK(h[1] == -2.0);
    CHECK(h[2] == 65504.0);
    CHECK(h[3] == std::ldexp(1.0, -24));
    CHECK(std::isinf(h[4]));
    CHECK(to_vector(f.at("b")) == std::vector<double>{1.0, -0.5});
    CHECK(f.at("u").dtype() == DType::U8);
    CHECK(to_vector(f.at("u")) == std::vector<double>{0, 255});
}

TEST_CASE("safetensors integer and boolean tensors are read, kept and written") {
    const int64_t i64[] = {-3, int64_t(1) << 40};
    const int32_t i32[] = {-7};
    const int16_t i16[] = {300};
    const int8_t i8[] = {-128};
    std::string data(reinterpret_cast<const char*>(i64), sizeof i64);
    data.append(reinterpret_cast<const char*>(i32), 4);
    data.append(reinterpret_cast<const char*>(i16), 2);
    data.append(reinterpret_cast<const char*>(i8), 1);
    data += std::string("\x00\x02", 2);  // a BOOL byte other than 0 or 1 is true
    const std::string header = R"({"n":{"dtype":"I64","shape":[2],"data_offsets":[0,16]},)"
                               R"("a":{"dtype":"I32","shape":[1],"data_offsets":[16,20]},)"
                               R"("b":{"dtype":"I16","shape":[1],"data_offsets":[20,22]},)"
                               R"("c":{"dtype":"I8","shape":[1],"data_offsets":[22,23]},)"
                               R"("m":{"dtype":"BOOL","shape":[2],"data_offsets":[23,25]}})";
    const SafetensorsFile f = parse_safetensors(raw_file(header, data), "t");
    CHECK(f.at("n").dtype() == DType::I64);
    CHECK(f.at("n").data<int64_t>()[1] == int64_t(1) << 40);
    CHECK(to_vector(f.at("n")) == std::vector<double>{-3, std::ldexp(1.0, 40)});
    CHECK(to_vector(f.at("a").to(DType::F32)) == std::vector<double>{-7});
    CHECK(f.at("b").item() == 300);
    CHECK(f.at("c").item() == -128);
    CHECK(f.at("m").dtype() == DType::Bool);
    CHECK(to_vector(f.at("m")) == std::vector<double>{0, 1});
    const SafetensorsFile back = parse_safetensors(serialize_safetensors(f.tensors), "back");
    for (const auto& [name, t] : f.tensors) {
        CHECK(back.at(name).dtype() == t.dtype());
        CHECK(to_vector(back.at(name)) == to_vector(t));
    }
    CHECK(error_of([&] { (void)f.at("n").to(DType::I32); }).find("conversion to I32 is not defined") != std::string::npos);
}

TEST_CASE("broken safetensors files give one clear error each") {
    const std::string good_header = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
    const std::string data(8, '\0');
    REQUIRE(parse_error(raw_file(good_header, data)) == "(no error)");

    CHECK(parse_error("") .find("not a safetensors file") != std::string::npos);
    CHECK(parse_error("abc").find("not a safetensors file") != std::string::npos);
    CHECK(parse_error(raw_file(good_header, data, 1000)).find("header length 1000 exceeds") != std::string::npos);
    CHECK(parse_error(raw_file(good_header, data, UINT64_MAX - 1)).find("exceeds") != std::string::npos);
    CHECK(parse_error(raw_file(good_header, data.substr(0, 5))).find("fall outside") != std::string::npos);  // truncated
    CHECK(parse_error(raw_file("{\"w\":", data)).find("invalid JSON") != std::string::npos);
    CHECK(parse_error(raw_file("[1,2]", "")).find("must be a JSON object") != std::string::npos);
    CHECK(parse_error(raw_file(R"({"w":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}})", data)).find("dtype C64") !=
          std::string::npos);
    CHECK(parse_error(raw_file(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", data)).find("does not match") !=
          std::string::npos);
    CHECK(parse_error(raw_file(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", data)).find("non-negative") !=
          std::string::npos);
    CHECK(parse_error(raw_file(R"({"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,8]}})", data)).find("non-negative") !=
          std::string::npos);
    CHECK(parse_error(raw_file(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", data))
              .find("does not match") != std::string::npos);
    CHECK(parse_error(raw_file(R"({"w":{"dtype":"F32","shape":[0,18446744073709551615],"data_offsets":[0,0]}})", ""))
              .find("is too large") != std::string::npos);
    // A zero anywhere makes an empty tensor, whatever the other sizes.
    CHECK(parse_error(raw_file(R"({"w":{"dtype":"F32","shape":[1099511627776,0],"data_offsets":[0,0]}})", "")) == "(no error)");
    CHECK(parse_error(raw_file(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", data)).find("fall outside") !=
          std::string::npos);
    CHECK(parse_error(raw_file(R"({"w":{"dtype":"F32","shape":[2]}})", data)).find("exactly the fields") != std::string::npos);
    CHECK(parse_error(raw_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                               R"("b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                               data))
              .find("overlap or leave a gap") != std::string::npos);
    CHECK(parse_error(raw_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", data)).find("overlap or leave a gap") !=
          std::string::npos);
    CHECK(parse_error(raw_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", data)).find("cover 4 bytes") !=
          std::string::npos);
    CHECK(parse_error(raw_file(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"w":{}})", data)).find("duplicate key") !=
          std::string::npos);
    CHECK(parse_error(raw_file(R"({"__metadata__":{"k":1}})", "")).find("must be a string") != std::string::npos);
    CHECK(error_of([] { (void)read_safetensors("/nonexistent/w.safetensors"); }) ==
          "cannot open '/nonexistent/w.safetensors': no such file");
}

TEST_CASE("safetensors reader survives every truncation and thousands of byte flips of a valid file") {
    Generator gen(2);
    const std::string good = serialize_safetensors({{"a", uniform({3, 4}, -1, 1, {}, &gen)}, {"b", zeros({2}, {DType::F64})}},
                                                   {{"k", "v"}});
    for (size_t n = 0; n < good.size(); ++n) CHECK(parse_error(good.substr(0, n)) != "(no error)");
    uint64_t state = 88172645463325252ull;  // xorshift: a fixed, reproducible sequence of mutations
    auto next = [&] { return state ^= state << 13, state ^= state >> 7, state ^= state << 17; };
    int parsed = 0;
    for (int trial = 0; trial < 3000; ++trial) {
        std::string bad = good;
        for (int k = 0; k < 1 + trial % 4; ++k) bad[next() % bad.size()] = static_cast<char>(next());
        const std::string e = parse_error(bad);  // either parses or throws sr::Error: never crashes
        parsed += e == "(no error)";
    }
    CHECK(parsed < 3000);
}

TEST_CASE("safetensors write is atomic and refuses bad names") {
    const std::string path = temp_path("atomic.safetensors");
    write_safetensors(path, {{"x", ones({2})}});
    CHECK(error_of([&] { write_safetensors(path, {{"x", ones({2})}, {"x", ones({3})}}); }).find("appears twice") !=
          std::string::npos);
    CHECK(to_vector(read_safetensors(path).at("x")) == std::vector<double>{1, 1});  // the old file is intact
    CHECK(error_of([] { write_safetensors("/nonexistent-dir/x.safetensors", {{"x", ones({1})}}); }).find("cannot write") == 0);
}

TEST_CASE("PNG fixtures: 16-bit RGB and gray, 8-bit gray+alpha and RGBA") {
    const SafetensorsFile expected = read_safetensors(kFixtures + "/images/expected.safetensors");
    for (const auto& [name, want] : expected.tensors) {
        CAPTURE(name);
        ImageInfo info;
        const Tensor img = read_image(kFixtures + "/images/" + name + ".png", 0, &info);
        CHECK(img.shape() == want.shape());
        CHECK(info.bits == (name.find("16") != std::string::npos ? 16 : 8));
        const auto got = to_vector(img), ref = to_vector(want);
        double worst = 0;
        for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::abs(got[i] - ref[i]));
        CHECK(worst < 1e-7);
    }
    // Channel conversion: gray to RGB repeats the plane; RGBA to RGB drops alpha.
    const Tensor gray = read_image(kFixtures + "/images/gray16.png");
    const Tensor rgb = read_image(kFixtures + "/images/gray16.png", 3);
    CHECK(rgb.shape() == Shape{3, 5, 7});
    CHECK(to_vector(rgb.slice(0, 2, 3)) == to_vector(gray));
    CHECK(read_image(kFixtures + "/images/rgba8.png", 3).shape() == Shape{3, 5, 7});
}

TEST_CASE("write_png round trip, and JPEG and BMP decoding") {
    Generator gen(4);
    for (int64_t c : {1, 2, 3, 4}) {
        const Tensor img = uniform({c, 6, 9}, 0, 1, {}, &gen);
        const std::string path = temp_path("rt" + std::to_string(c) + ".png");
        write_png(path, img);
        const auto got = to_vector(read_image(path)), ref = to_vector(img);
        REQUIRE(got.size() == ref.size());
        for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == doctest::Approx(std::round(ref[i] * 255) / 255).epsilon(1e-6));
    }
    // Out-of-range values are clamped, NaN written as 0.
    write_png(temp_path("clamp.png"), from_vector({-1, 2, std::nan("")}, {1, 1, 3}));
    CHECK(to_vector(read_image(temp_path("clamp.png"))) == std::vector<double>{0, 1, 0});

    // A smooth RGB image through stb's JPEG and BMP writers.
    std::vector<uint8_t> pixels(8 * 8 * 3);
    for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(100 + (i % 24));
    auto to_string = [](void* ctx, void* d, int n) { static_cast<std::string*>(ctx)->append(static_cast<char*>(d), n); };
    std::string jpg, bmp;
    REQUIRE(stbi_write_jpg_to_func(to_string, &jpg, 8, 8, 3, pixels.data(), 95));
    REQUIRE(stbi_write_bmp_to_func(to_string, &bmp, 8, 8, 3, pixels.data()));
    const Tensor b = decode_image(bmp, "x.bmp");
    CHECK(b.shape() == Shape{3, 8, 8});
    CHECK(to_vector(b)[0] == doctest::Approx(100.0 / 255));  // BMP is lossless
    const Tensor j = decode_image(jpg, "x.jpg");
    CHECK(j.shape() == Shape{3, 8, 8});
    CHECK(std::abs(to_vector(j)[0] - 100.0 / 255) < 0.05);  // JPEG is close
}

TEST_CASE("missing, empty and corrupt images give one clear error") {
    // Found by tests/fuzz/fuzz_image.cpp: a JPEG Huffman table of more than 256 codes, which made
    // Debian's stb_image write past its table (stb issue 1289); libjpeg-turbo refuses it.
    CHECK(error_of([] { (void)read_image(kFixtures + "/images/stb_huffman_overflow.jpg"); })
              .find("read_image: cannot decode '" + kFixtures + "/images/stb_huffman_overflow.jpg': Bogus Huffman table") == 0);
    CHECK(error_of([] { (void)read_image("/nonexistent/a.png"); }) == "cannot open '/nonexistent/a.png': no such file");
    CHECK(error_of([] { (void)read_image(std::filesystem::temp_directory_path().string()); }).find("is a directory") !=
          std::string::npos);
    CHECK(error_of([] { (void)decode_image("", "e.png"); }) == "read_image: 'e.png' is empty");
    CHECK(error_of([] { (void)decode_image("not an image at all", "n.png"); }).find("read_image: cannot decode 'n.png'") == 0);
    const std::string png = read_file(kFixtures + "/images/rgb16.png");
    // Cut anywhere before the image data ends (the last 12 bytes are the IEND marker, which
    // decoders do not need).
    for (size_t n = 1; n + 12 < png.size(); n += 3) {
        CAPTURE(n);
        CHECK(error_of([&] { (void)decode_image(png.substr(0, n), "cut.png"); }) != "(no error)");
    }
    CHECK(error_of([] { write_png(temp_path("bad.png"), zeros({5, 2, 2})); }).find("C = 1..4") != std::string::npos);
    CHECK(error_of([] { (void)read_image(kFixtures + "/images/rgb16.png", 2); }).find("channels must be 0, 1, 3 or 4") !=
          std::string::npos);
}

TEST_CASE("JSON reader") {
    const Json j = Json::parse(R"({"a": [1, -2.5e3, true, null], "s": "x\u00e9\n", "o": {}})", "t");
    CHECK(j.find("a")->items.size() == 4);
    CHECK(j.find("a")->items[1].number == -2500);
    CHECK(j.find("s")->text == "x\xc3\xa9\n");
    CHECK(json_quote("a\"b\\\n") == "\"a\\\"b\\\\\\n\"");
    CHECK(error_of([] { (void)Json::parse("{\"a\":1,}", "t"); }).find("t: invalid JSON at byte") == 0);
    CHECK(error_of([] { (void)Json::parse(std::string(100, '['), "t"); }).find("nested too deeply") != std::string::npos);
}

TEST_CASE("16-bit PNG round trip, every channel count") {
    Generator gen(9);
    for (int64_t c : {1, 2, 3, 4}) {
        const Tensor img = uniform({c, 5, 7}, 0, 1, {}, &gen);
        const std::string path = temp_path("rt16_" + std::to_string(c) + ".png");
        write_png(path, img, 16);
        ImageInfo info;
        const Tensor back = read_image(path, 0, &info);
        CHECK(info.bits == 16);
        CHECK(info.channels == c);
        const auto got = to_vector(back), ref = to_vector(img);
        for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == doctest::Approx(std::round(ref[i] * 65535) / 65535).epsilon(1e-7));
    }
    CHECK(error_of([] { write_png(temp_path("x.png"), zeros({3, 2, 2}), 12); }) == "write_png: bits must be 8 or 16, got 12");
}

// PNG's chunk CRC (CRC-32, ISO 3309), bit by bit.
uint32_t png_crc(const std::string& bytes) {
    uint32_t c = 0xFFFFFFFFu;
    for (unsigned char b : bytes) {
        c ^= b;
        for (int k = 0; k < 8; ++k) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    }
    return c ^ 0xFFFFFFFFu;
}

TEST_CASE("inputs that could exhaust the machine are refused before they are read or decoded") {
    namespace fs = std::filesystem;
    const fs::path dir = fs::temp_directory_path() / "srforge_test_io_limits";
    fs::remove_all(dir);
    fs::create_directories(dir);
    // Devices and FIFOs are never read (they may never end).
    CHECK(error_of([] { read_file("/dev/zero"); }).find("not a regular file") != std::string::npos);
    CHECK(error_of([] { read_image("/dev/zero"); }).find("not a regular file") != std::string::npos);
    // A PNG whose header declares 100000 x 100000 pixels: refused from the header, nothing decoded.
    std::string png = encode_png(zeros({3, 4, 4}));
    const unsigned char big[8] = {0x00, 0x01, 0x86, 0xA0, 0x00, 0x01, 0x86, 0xA0};  // IHDR width, height = 100000
    png.replace(16, 8, reinterpret_cast<const char*>(big), 8);
    const uint32_t crc = png_crc(png.substr(12, 17));  // IHDR's type and data: the file stays valid
    for (int i = 0; i < 4; ++i) png[29 + i] = static_cast<char>(crc >> (24 - 8 * i));
    write_file_atomic((dir / "huge.png").string(), png);
    CHECK(error_of([&] { read_image((dir / "huge.png").string()); }).find("is 100000x100000 pixels, more than the limit of 268435456") !=
          std::string::npos);
    CHECK(error_of([&] { read_image_info((dir / "huge.png").string()); }).find("SR_MAX_IMAGE_PIXELS") != std::string::npos);
    // Both limits can be set.
    write_file_atomic((dir / "small.png").string(), encode_png(zeros({3, 4, 4})));
    setenv("SR_MAX_IMAGE_PIXELS", "15", 1);
    CHECK(error_of([&] { read_image((dir / "small.png").string()); }).find("is 4x4 pixels, more than the limit of 15") != std::string::npos);
    unsetenv("SR_MAX_IMAGE_PIXELS");
    CHECK(read_image((dir / "small.png").string()).shape() == Shape{3, 4, 4});
    setenv("SR_MAX_INPUT_BYTES", "10", 1);
    CHECK(error_of([&] { read_file((dir / "small.png").string()); }).find("more than the limit of 10 (set SR_MAX_INPUT_BYTES") !=
          std::string::npos);
    unsetenv("SR_MAX_INPUT_BYTES");
}
