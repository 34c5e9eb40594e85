// core/ LMDB images: databases in BasicSR's layout, written here with liblmdb itself as
// basicsr/utils/lmdb_util.py writes them, read back through LmdbImages (keys in meta_info.txt's
// order, the same pixels, many threads at once, no lock file needed), meta_info.txt parsing, and
// every way a folder can be wrong.
#include <doctest/doctest.h>

#include <lmdb.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "core/file.h"
#include "core/image_io.h"
#include "core/lmdb_images.h"
#include "train/data.h"
#include "train/datasets.h"
#include "test_util.h"

using namespace sr;
namespace fs = std::filesystem;

namespace {

// An empty folder of this name under the temp directory.
fs::path fresh_dir(const std::string& name) {
    const fs::path dir = fs::temp_directory_path() / "srforge_test_lmdb" / name;
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
}

// [C, H, W] of noise (PNG cannot shrink it much) in exactly representable 8- or 16-bit values,
// different for each seed.
Tensor test_image(int c, int h, int w, int seed, int bits = 8) {
    const uint64_t top = bits == 16 ? 65535 : 255;
    std::vector<double> v(size_t(c) * h * w);
    for (uint64_t i = 0; i < v.size(); ++i) {
        uint64_t z = i + uint64_t(seed) * 0x9E3779B97F4A7C15u;  // splitmix64's mixer
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
        v[i] = double((z ^ (z >> 31)) % (top + 1)) / double(top);
    }
    return from_vector(v, {c, h, w});
}

struct StoredImage {
    std::string key;
    Tensor pixels;
    int bits = 8;
};

// What make_lmdb_from_imgs writes: LMDB's directory layout (data.mdb, lock.mdb) with each image
// PNG-encoded under its key in the main database, and meta_info.txt with one
// f'{key}.png ({h},{w},{c}) {compress_level}' line per image, in the order they were put.
void write_basicsr_lmdb(const fs::path& folder, const std::vector<StoredImage>& images, int level = 1) {
    MDB_env* env = nullptr;
    REQUIRE(mdb_env_create(&env) == 0);
    REQUIRE(mdb_env_set_mapsize(env, size_t(16) << 20) == 0);
    REQUIRE(mdb_env_open(env, folder.c_str(), 0, 0644) == 0);
    MDB_txn* txn = nullptr;
    REQUIRE(mdb_txn_begin(env, nullptr, 0, &txn) == 0);
    MDB_dbi dbi = 0;
    REQUIRE(mdb_dbi_open(txn, nullptr, 0, &dbi) == 0);
    std::string meta;
    for (const StoredImage& im : images) {
        std::string png = encode_png(im.pixels, im.bits);
        MDB_val key{im.key.size(), const_cast<char*>(im.key.data())};
        MDB_val value{png.size(), png.data()};
        REQUIRE(mdb_put(txn, dbi, &key, &value, 0) == 0);
        meta += im.key + ".png (" + std::to_string(im.pixels.size(1)) + "," + std::to_string(im.pixels.size(2)) + "," +
                std::to_string(im.pixels.size(0)) + ") " + std::to_string(level) + "\n";
    }
    REQUIRE(mdb_txn_commit(txn) == 0);
    mdb_env_close(env);
    write_file_atomic((folder / "meta_info.txt").string(), meta);
}

// Keys deliberately out of sorted order, a REDS-style key with '/', one with a '.' in it, gray,
// RGBA and 16-bit images.
std::vector<StoredImage> sample_images() {
    return {{"0002_s001", test_image(3, 5, 7, 1)},    {"0001_s001", test_image(3, 4, 6, 2)},
            {"000/00000000", test_image(4, 3, 3, 3)}, {"img.v2", test_image(3, 2, 5, 4)},
            {"gray", test_image(1, 6, 4, 5)},         {"deep", test_image(3, 3, 4, 6, 16), 16}};
}

std::string meta_error(const std::string& text) {
    return error_of([&] { (void)parse_lmdb_meta_info(text, "x.lmdb/meta_info.txt"); });
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("lmdb: a BasicSR database reads back in meta_info order with the same pixels") {
    const fs::path folder = fresh_dir("train_HR_sub.lmdb");
    const auto images = sample_images();
    write_basicsr_lmdb(folder, images);
    REQUIRE(fs::exists(folder / "data.mdb"));
    REQUIRE(fs::exists(folder / "lock.mdb"));

    const LmdbImages db(folder.string());
    std::vector<std::string> want_keys;
    for (const auto& im : images) want_keys.push_back(im.key);
    CHECK(db.keys() == want_keys);
    REQUIRE(db.meta().size() == images.size());
    CHECK(db.meta()[0].h == 5);
    CHECK(db.meta()[0].w == 7);
    CHECK(db.meta()[0].c == 3);
    CHECK(db.meta()[0].compression == 1);
    CHECK(db.meta()[4].c == 1);
    for (const auto& im : images) {
        CAPTURE(im.key);
        CHECK(db.bytes(im.key) == encode_png(im.pixels, im.bits));  // the stored bytes, untouched
        ImageInfo info;
        const Tensor got = decode_image(db.bytes(im.key), im.key, 0, &info);
        CHECK(info.bits == im.bits);
        REQUIRE(got.shape() == im.pixels.shape());
        CHECK(largest_difference(got, im.pixels).worst < 1e-6);
        CHECK(largest_difference(db.image(im.key), im.pixels).worst < 1e-6);
    }
    CHECK(db.image("0001_s001", 1).shape() == Shape{1, 4, 6});  // channels as read_image's
}

TEST_CASE("lmdb: opening needs no lock file and writes nothing") {
    const fs::path folder = fresh_dir("nolock.lmdb");
    write_basicsr_lmdb(folder, sample_images());
    fs::remove(folder / "lock.mdb");  // as when a dataset is copied without it
    const auto data_time = fs::last_write_time(folder / "data.mdb");
    {
        const LmdbImages db(folder.string());
        CHECK(db.bytes("gray").size() > 0);
    }
    CHECK_FALSE(fs::exists(folder / "lock.mdb"));
    CHECK(fs::last_write_time(folder / "data.mdb") == data_time);
}

TEST_CASE("lmdb: many threads read one database at once") {
    const fs::path folder = fresh_dir("threads.lmdb");
    const auto images = sample_images();
    write_basicsr_lmdb(folder, images);
    std::vector<std::string> want;
    for (const auto& im : images) want.push_back(encode_png(im.pixels, im.bits));

    const LmdbImages db(folder.string());
    std::atomic<int> wrong{0}, reads{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < 8; ++t)
        workers.emplace_back([&, t] {
            for (int round = 0; round < 200; ++round) {
                const size_t i = size_t(t + round) % images.size();  // threads on different keys at once
                if (db.bytes(images[i].key) != want[i]) ++wrong;
                ++reads;
            }
        });
    for (auto& w : workers) w.join();
    CHECK(reads == 8 * 200);
    CHECK(wrong == 0);
}

TEST_CASE("lmdb: without meta_info.txt the keys come from the database, in sorted order") {
    const fs::path folder = fresh_dir("nometa.lmdb");
    write_basicsr_lmdb(folder, sample_images());
    fs::remove(folder / "meta_info.txt");
    const LmdbImages db(folder.string());
    CHECK(db.keys() == std::vector<std::string>{"000/00000000", "0001_s001", "0002_s001", "deep", "gray", "img.v2"});
    CHECK(db.meta().empty());
    CHECK(db.image("img.v2").shape() == Shape{3, 2, 5});
}

TEST_CASE("lmdb: meta_info lines as BasicSR writes them, and the variants it reads") {
    const auto e = parse_lmdb_meta_info("0001_s001.png (480,480,3) 1\n"
                                        "000/00000000.png (720,1280,3) 0\r\n"  // Windows line end
                                        "\n"
                                        "  img (1).png  ( 4, 5 , 1 )  9  \n"    // spaces, a name with parentheses
                                        "v1.2.png (2,3,4)\n"                    // no compression level; dots in the key
                                        ".hidden (1,1,3) 1",                    // no final newline; dot-file name
                                        "m");
    REQUIRE(e.size() == 5);
    CHECK(e[0].key == "0001_s001");
    CHECK(e[0].h == 480);
    CHECK(e[0].w == 480);
    CHECK(e[0].c == 3);
    CHECK(e[0].compression == 1);
    CHECK(e[1].key == "000/00000000");
    CHECK(e[1].h == 720);
    CHECK(e[1].w == 1280);
    CHECK(e[1].compression == 0);
    CHECK(e[2].key == "img (1)");
    CHECK(e[2].h == 4);
    CHECK(e[2].w == 5);
    CHECK(e[2].c == 1);
    CHECK(e[2].compression == 9);
    CHECK(e[3].key == "v1.2");
    CHECK(e[3].compression == -1);
    CHECK(e[4].key == ".hidden");
    CHECK(parse_lmdb_meta_info("", "m").empty());
    CHECK(parse_lmdb_meta_info("\n \n", "m").empty());
}

TEST_CASE("lmdb: malformed meta_info lines are errors naming the file and the line") {
    CHECK(meta_error("a.png (1,1,3) 1\nb.png 1\n") ==
          "lmdb: 'x.lmdb/meta_info.txt' line 2: no shape '(H,W,C)' in 'b.png 1'; expected 'NAME (H,W,C) LEVEL' as BasicSR "
          "writes it, e.g. '0001_s001.png (480,480,3) 1'");
    CHECK(contains(meta_error("a.png (1,1,3 1"), "line 1: the shape has no ')'"));
    CHECK(contains(meta_error("(1,1,3) 1"), "no image name"));
    CHECK(contains(meta_error("a.png (1,1) 1"), "three integers"));
    CHECK(contains(meta_error("a.png (1,1,3,1) 1"), "three integers"));
    CHECK(contains(meta_error("a.png (1,x,3) 1"), "three integers"));
    CHECK(contains(meta_error("a.png (1,,3) 1"), "three integers"));
    CHECK(contains(meta_error("a.png (99999999999,1,3) 1"), "three integers"));
    CHECK(contains(meta_error("a.png (0,1,3) 1"), "positive"));
    CHECK(contains(meta_error("a.png (1,-4,3) 1"), "positive"));
    CHECK(contains(meta_error("a.png (1,1,5) 1"), "channels must be 1 to 4"));
    CHECK(contains(meta_error("a.png (1,1,3) -1"), "compression level"));
    CHECK(contains(meta_error("a.png (1,1,3) 1 2"), "compression level"));
    CHECK(contains(meta_error("a.png (1,1,3) 1\na.jpg (2,2,3) 1"), "line 2: key 'a' again (first on line 1)"));
    // Binary junk is quoted printably and briefly.
    const std::string junk = meta_error(std::string("\x01\x02(", 3) + std::string(200, 'z'));
    CHECK(contains(junk, "in '\?\?(zzz"));
    CHECK(contains(junk, "z...'"));
    // Every prefix of a good file parses or fails cleanly.
    const std::string good = "0001_s001.png (480,480,3) 1\n000/0.png (4,5,1) 2\n";
    for (size_t n = 0; n <= good.size(); ++n) {
        CAPTURE(n);
        const std::string err = meta_error(good.substr(0, n));
        CHECK((err == "(no error)" || err.rfind("lmdb: 'x.lmdb/meta_info.txt' line ", 0) == 0));
    }
}

TEST_CASE("lmdb: missing keys, folders and databases are errors naming them") {
    const fs::path folder = fresh_dir("errors.lmdb");
    write_basicsr_lmdb(folder, sample_images());
    const LmdbImages db(folder.string());
    CHECK(error_of([&] { (void)db.bytes("0001_s001.png"); }) ==
          "lmdb: no key '0001_s001.png' in '" + folder.string() +
              "' (keys are image names without the extension, e.g. '0002_s001')");
    CHECK(contains(error_of([&] { (void)db.image("nope"); }), "no key 'nope'"));
    CHECK(contains(error_of([&] { (void)db.bytes(""); }), "cannot read key ''"));

    const std::string missing = (fs::temp_directory_path() / "srforge_test_lmdb" / "absent.lmdb").string();
    CHECK(error_of([&] { LmdbImages absent(missing); }) == "lmdb: no folder '" + missing + "'");

    const fs::path data_file = folder / "data.mdb";
    CHECK(contains(error_of([&] { LmdbImages file(data_file.string()); }), "is not a folder"));

    const fs::path plain = fresh_dir("plain.lmdb");  // a folder of images, not a database
    write_file_atomic((plain / "meta_info.txt").string(), "a.png (1,1,3) 1\n");
    CHECK(error_of([&] { LmdbImages p(plain.string()); }) == "lmdb: '" + plain.string() + "' is not an LMDB folder: it has no data.mdb");

    const fs::path junk = fresh_dir("junk.lmdb");
    write_file_atomic((junk / "data.mdb").string(), std::string(20000, 'x'));
    CHECK(contains(error_of([&] { LmdbImages j(junk.string()); }), "data.mdb' is not an LMDB database: "));
    write_file_atomic((junk / "data.mdb").string(), std::string(100, '\0'));  // shorter than its header
    CHECK(contains(error_of([&] { LmdbImages j(junk.string()); }), "data.mdb' is not an LMDB database: "));
    write_file_atomic((junk / "data.mdb").string(), "");
    CHECK(error_of([&] { LmdbImages j(junk.string()); }) == "lmdb: '" + (junk / "data.mdb").string() + "' is empty, not an LMDB database");

    // A truncated copy: the header pages are intact, the rest is cut off.
    const fs::path cut = fresh_dir("truncated.lmdb");
    write_basicsr_lmdb(cut, {{"big", test_image(3, 96, 96, 1)}});
    const auto size = fs::file_size(cut / "data.mdb");
    REQUIRE(size > 8 * 4096);  // the image spans many overflow pages
    fs::resize_file(cut / "data.mdb", size / 2);
    CHECK(contains(error_of([&] { LmdbImages c(cut.string()); }),
                   "data.mdb' is truncated: it has " + std::to_string(size / 2) + " bytes, its pages need " + std::to_string(size)));

    // meta_info.txt that lists more images than the database holds (from another database).
    const fs::path mixed = fresh_dir("mixed.lmdb");
    write_basicsr_lmdb(mixed, {{"only", test_image(3, 2, 2, 1)}});
    write_file_atomic((mixed / "meta_info.txt").string(), "only.png (2,2,3) 1\nother.png (2,2,3) 1\n");
    CHECK(contains(error_of([&] { LmdbImages m(mixed.string()); }), "lists 2 images but"));

    // A malformed meta_info.txt is reported with its path.
    write_file_atomic((mixed / "meta_info.txt").string(), "only.png (2,2) 1\n");
    CHECK(contains(error_of([&] { LmdbImages m(mixed.string()); }), "lmdb: '" + (mixed / "meta_info.txt").string() + "' line 1:"));
}

TEST_CASE("lmdb: a PairedImageDataset on BasicSR databases gives the batches its image folders give") {
    const fs::path root = fresh_dir("paired");
    fs::create_directories(root / "hr");
    fs::create_directories(root / "lr");
    fs::create_directories(root / "hr.lmdb");
    fs::create_directories(root / "lr.lmdb");
    std::vector<StoredImage> hr, lr;
    for (int i = 3; i >= 1; --i) {  // put out of order: the dataset sorts the keys, as BasicSR's
        const std::string key = "000" + std::to_string(i) + "_s001";
        hr.push_back({key, test_image(3, 16, 16, 10 + i)});
        lr.push_back({key, test_image(3, 8, 8, 20 + i)});
        write_png((root / "hr" / (key + ".png")).string(), hr.back().pixels);
        write_png((root / "lr" / (key + ".png")).string(), lr.back().pixels);
    }
    write_basicsr_lmdb(root / "hr.lmdb", hr);
    write_basicsr_lmdb(root / "lr.lmdb", lr);
    DatasetOptions disk;
    disk.type = "PairedImageDataset";
    disk.dataroot_gt = (root / "hr").string();
    disk.dataroot_lq = (root / "lr").string();
    DatasetOptions db = disk;
    db.dataroot_gt += ".lmdb";
    db.dataroot_lq += ".lmdb";
    db.io_backend = "lmdb";
    const std::vector<DatasetSample> a = dataset_samples(disk, 2), b = dataset_samples(db, 2);
    REQUIRE(a.size() == 3);
    REQUIRE(b.size() == 3);
    std::vector<SamplePaths> pa, pb;
    for (size_t i = 0; i < a.size(); ++i) {
        CHECK(a[i].name == b[i].name);
        pa.push_back(a[i].paths);
        pb.push_back(b[i].paths);
    }
    TrainData from_files(pa, {.scale = 2, .patch = 4, .batch = 2, .workers = 1, .seed = 3});
    TrainData from_lmdb(pb, {.scale = 2, .patch = 4, .batch = 2, .workers = 2, .seed = 3});
    for (int64_t iter = 1; iter <= 4; ++iter) {
        const auto [lr_a, hr_a] = from_files.batch(iter);
        const auto [lr_b, hr_b] = from_lmdb.batch(iter);
        CHECK(largest_difference(lr_a, lr_b).worst == 0);
        CHECK(largest_difference(hr_a, hr_b).worst == 0);
    }
    // The LR database must hold every key of the HR one.
    fs::create_directories(root / "short.lmdb");
    write_basicsr_lmdb(root / "short.lmdb", {lr[0], lr[1]});
    db.dataroot_lq = (root / "short.lmdb").string();
    CHECK(contains(error_of([&] { dataset_samples(db, 2); }), "has no image '0001_s001'"));
}
