// BasicSR-format LMDB image databases (`io_backend: {type: lmdb}`), read-only, through liblmdb.
//
// BasicSR (basicsr/utils/lmdb_util.py, make_lmdb_from_imgs / LmdbMaker; run by
// scripts/data_preparation/create_lmdb.py) writes a folder NAME.lmdb holding
//   data.mdb       the LMDB data file, in LMDB's default directory layout (lmdb.open(path) with
//                  py-lmdb's subdir=True), the main (unnamed) database only;
//   lock.mdb       LMDB's lock file, which a reader does not need (see below);
//   meta_info.txt  one line per image, in the order the images were put:
//                    0001_s001.png (480,480,3) 1
//                  i.e. f'{key}.png ({h},{w},{c}) {compress_level}': the key plus ".png" (always
//                  ".png", whatever the source file was), the shape as OpenCV gives it (a gray
//                  image is written as c = 1), and the cv2.IMWRITE_PNG_COMPRESSION level.
// Each value is the image as cv2.imencode('.png', ...) encodes it: an ordinary PNG (OpenCV turns
// its BGR arrays into RGB files), 8- or 16-bit, so decode_image reads it as any PNG file. The key
// is the image's path relative to the source folder without its extension, ASCII, and may hold
// '/' (REDS: "000/00000000").
//
// Opening is read-only in every sense: MDB_RDONLY maps data.mdb read-only and MDB_NOLOCK never
// opens or creates lock.mdb, so a dataset on a read-only mount, or a copy without lock.mdb, reads
// fine. This is what BasicSR's reader does (basicsr/utils/file_client.py, LmdbBackend:
// lmdb.open(path, readonly=True, lock=False, readahead=False)). The cost of NOLOCK, as there: the
// database must not be written while it is read.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/tensor.h"

struct MDB_env;  // liblmdb's handle; lmdb.h stays out of this header

namespace sr {

// One line of meta_info.txt.
struct LmdbMetaEntry {
    std::string key;       // the LMDB key: the name on the line without its extension
    int h = 0, w = 0, c = 0;
    int compression = -1;  // the PNG compression level; -1 where the line gives none
};

// meta_info.txt's text, one entry per non-blank line, in file order. Each line is
// `NAME (H,W,C)` with an optional `LEVEL` after it; NAME may hold spaces, H and W must be
// positive, C 1..4, LEVEL non-negative; a key may appear once. Anything else is an sr::Error
// naming `what` (the file) and the line. A pure function of its arguments, for fuzzing.
std::vector<LmdbMetaEntry> parse_lmdb_meta_info(const std::string& text, const std::string& what);

// A BasicSR LMDB folder, open for reading. All const members may be called from many threads at
// once (training's loader workers): each bytes() call is its own read transaction.
class LmdbImages {
public:
    explicit LmdbImages(const std::string& folder);

    const std::string& folder() const { return folder_; }
    // meta_info.txt's keys in file order; without meta_info.txt, every key of the database in
    // LMDB's byte order (which is also the order of Python's sorted(), as BasicSR's paired
    // dataset uses).
    const std::vector<std::string>& keys() const { return keys_; }
    // meta_info.txt's entries (shapes, compression), parallel to keys(); empty without the file.
    const std::vector<LmdbMetaEntry>& meta() const { return meta_; }
    // meta_info.txt's entry of a key (its size without decoding); null without one.
    const LmdbMetaEntry* meta_of(const std::string& key) const;

    // The stored (encoded) image; a key the database lacks is an sr::Error naming it and the folder.
    std::string bytes(const std::string& key) const;
    // bytes(key) decoded by decode_image, [C, H, W] in [0, 1]; channels as read_image's.
    Tensor image(const std::string& key, int channels = 0) const;

private:
    struct EnvCloser {
        void operator()(MDB_env* env) const;
    };

    std::string folder_;
    std::unique_ptr<MDB_env, EnvCloser> env_;
    unsigned int dbi_ = 0;  // MDB_dbi of the main database
    std::vector<std::string> keys_;
    std::vector<LmdbMetaEntry> meta_;
    std::unordered_map<std::string, size_t> meta_index_;  // key -> its entry in meta_
};

}  // namespace sr
