#include "train/data.h"

#include <cmath>

#include "core/image_io.h"
#include "core/lmdb_images.h"
#include "core/rng.h"
#include "train/imresize.h"

namespace sr {

namespace {

// [C, H, W] floats in [0, 1] -> 8-bit values, RGB (gray is repeated, alpha dropped).
std::vector<uint8_t> to_rgb8(const Tensor& image) {
    const int64_t C = image.size(0), plane = image.size(1) * image.size(2);
    const Tensor c = image.contiguous();
    const float* p = c.data<float>();
    std::vector<uint8_t> out(static_cast<size_t>(3 * plane));
    for (int64_t ch = 0; ch < 3; ++ch) {
        const float* src = p + (C >= 3 ? ch : 0) * plane;
        for (int64_t i = 0; i < plane; ++i)
            out[ch * plane + i] = static_cast<uint8_t>(std::lround(std::min(std::max(src[i], 0.0f), 1.0f) * 255.0f));
    }
    return out;
}

// The random words of draw k of iteration `iter`: image choice, crop position, flips.
uint32_t draw(uint64_t seed, int64_t iter, uint64_t k) {
    uint32_t w[4];
    random_words({seed, static_cast<uint64_t>(iter)}, k, w);
    return w[0];
}

// Index i of a row or column of n values, reflected past its end without repeating the edge
// (OpenCV's BORDER_REFLECT_101; inside the image it is i itself).
int64_t reflect_101(int64_t i, int64_t n) {
    if (i < n) return i;
    if (n == 1) return 0;
    const int64_t period = 2 * n - 2;
    i %= period;
    return i < n ? i : period - i;
}

// Copies the n x n crop at (y0, x0) of an 8-bit [3, H, W] image into dst as floats in [0, 1],
// flipped in BasicSR's augment order: horizontal flip, vertical flip, then transpose (rot90).
// Rows and columns past the image's bottom/right edge are reflected (reflect_101).
void copy_crop(const std::vector<uint8_t>& src, int64_t H, int64_t W, int64_t y0, int64_t x0, int64_t n, Flips f, float* dst) {
    for (int64_t c = 0; c < 3; ++c)
        for (int64_t i = 0; i < n; ++i)
            for (int64_t j = 0; j < n; ++j) {
                int64_t r = f.transpose ? j : i, q = f.transpose ? i : j;
                if (f.v) r = n - 1 - r;
                if (f.h) q = n - 1 - q;
                const int64_t sy = reflect_101(y0 + r, H), sx = reflect_101(x0 + q, W);
                dst[(c * n + i) * n + j] = float(src[(c * H + sy) * W + sx]) * (1.0f / 255.0f);
            }
}

}  // namespace

namespace {

Tensor read_sample_image(const std::string& name, const LmdbImages* db) { return db ? db->image(name) : read_image(name); }

// An image's size without decoding it: the file's header, or the database's meta_info.txt line
// (decoded where the database has no meta_info.txt).
ImageInfo sample_info(const std::string& name, const LmdbImages* db) {
    if (!db) return read_image_info(name);
    if (const LmdbMetaEntry* e = db->meta_of(name)) return ImageInfo{.width = e->w, .height = e->h, .channels = e->c};
    const Tensor image = db->image(name);
    return ImageInfo{.width = int(image.size(2)), .height = int(image.size(1)), .channels = int(image.size(0))};
}

}  // namespace

ImagePair8 load_pair(const SamplePaths& paths, int64_t scale, bool hr_only) {
    Tensor hr = read_sample_image(paths.hr, paths.hr_db.get());
    if (hr_only) {
        ImagePair8 pair;
        pair.h = hr.size(1);
        pair.w = hr.size(2);
        pair.hr = to_rgb8(hr);
        return pair;
    }
    Tensor lr;
    if (paths.lr.empty()) {
        // HR-only data: crop HR to a multiple of the scale, then MATLAB-bicubic downscale and
        // round to 8 bits, as DIV2K's LR images were made.
        const int64_t h = hr.size(1) / scale * scale, w = hr.size(2) / scale * scale;
        SR_CHECK(h > 0 && w > 0, "data: '", paths.hr, "' (", hr.size(2), "x", hr.size(1), ") is smaller than the scale ", scale);
        hr = hr.slice(1, 0, h).slice(2, 0, w).contiguous();
        lr = quantize_u8(imresize(hr.slice(0, 0, std::min<int64_t>(hr.size(0), 3)).contiguous(), 1.0 / double(scale)));
    } else {
        lr = read_sample_image(paths.lr, paths.lr_db.get());
    }
    SR_CHECK(hr.size(1) == lr.size(1) * scale && hr.size(2) == lr.size(2) * scale, "data: HR '", paths.hr, "' is ",
             hr.size(2), "x", hr.size(1), " but LR '", paths.lr, "' is ", lr.size(2), "x", lr.size(1), " (expected HR = ",
             scale, " x LR)");
    ImagePair8 pair;
    pair.h = lr.size(1);
    pair.w = lr.size(2);
    pair.lr = to_rgb8(lr);
    pair.hr = to_rgb8(hr);
    return pair;
}

TrainData::TrainData(std::vector<SamplePaths> files, DataOptions options) : files_(std::move(files)), opt_(options) {
    SR_CHECK(!files_.empty(), "data: no training images");
    SR_CHECK(opt_.scale >= 1 && opt_.patch >= 1 && opt_.batch >= 1, "data: scale, patch and batch must be >= 1");
    // Check every pair up front from the file headers, so a missing file or a size mismatch stops
    // the run before it starts, naming the file.
    int64_t decoded_bytes = 0;  // what the decoded images will take, for preload()
    for (const SamplePaths& f : files_) {
        const ImageInfo hr = sample_info(f.hr, f.hr_db.get());
        decoded_bytes += int64_t(hr.width) * hr.height * 3 * (opt_.synthesize ? 1 : 2);  // LR (at most HR's size) beside HR
        if (f.lr.empty() || opt_.synthesize) continue;
        const ImageInfo lr = sample_info(f.lr, f.lr_db.get());
        SR_CHECK(hr.height == lr.height * opt_.scale && hr.width == lr.width * opt_.scale, "data: HR '", f.hr, "' is ",
                 hr.width, "x", hr.height, " but LR '", f.lr, "' is ", lr.width, "x", lr.height, " (expected HR = ", opt_.scale,
                 " x LR)");
        SR_CHECK(lr.height >= opt_.patch && lr.width >= opt_.patch, "data: LR '", f.lr, "' (", lr.width, "x", lr.height,
                 ") is smaller than the ", opt_.patch, "-pixel patch");
    }
    cache_.resize(files_.size());
    if (decoded_bytes <= opt_.cache_mb * (int64_t(1) << 20)) preload();
}

// Every image decoded now, into the cache, when all of them fit in it: a truncated or corrupt file
// (whose header reads fine) stops the run before it starts, naming the file, instead of hours in.
// A dataset larger than the cache is decoded when its images are first drawn.
void TrainData::preload() {
    std::vector<std::string> errors(files_.size());
#pragma omp parallel for schedule(dynamic)
    for (int64_t i = 0; i < int64_t(files_.size()); ++i) {
        try {
            image(size_t(i));
        } catch (const std::exception& e) {
            errors[size_t(i)] = e.what();
        }
    }
    for (const std::string& e : errors) SR_CHECK(e.empty(), e);
}

TrainData::~TrainData() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
    }
    changed_.notify_all();
    for (std::thread& t : threads_) t.join();
}

std::shared_ptr<const ImagePair8> TrainData::image(size_t index) {
    {
        std::lock_guard<std::mutex> lock(cache_mutex_);
        if (cache_[index]) return cache_[index];
    }
    auto pair = std::make_shared<const ImagePair8>(load_pair(files_[index], opt_.scale, bool(opt_.synthesize)));
    const int64_t bytes = static_cast<int64_t>(pair->lr.size() + pair->hr.size());
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (!cache_[index] && cached_bytes_ + bytes <= opt_.cache_mb * (int64_t(1) << 20)) {
        cache_[index] = pair;
        cached_bytes_ += bytes;
    }
    return pair;
}

std::pair<Tensor, Tensor> TrainData::make_batch(int64_t iter) {
    if (opt_.synthesize) return opt_.synthesize(make_hr_batch(iter), iter);
    const int64_t B = opt_.batch, p = opt_.patch, s = opt_.scale, P = p * s;
    Tensor lr = Tensor::empty({B, 3, p, p}, DType::F32, Device::cpu());
    Tensor hr = Tensor::empty({B, 3, P, P}, DType::F32, Device::cpu());
    float* lp = lr.data<float>();
    float* hp = hr.data<float>();
    for (int64_t b = 0; b < B; ++b) {
        const uint64_t k = static_cast<uint64_t>(opt_.first_sample + b) * 8;  // eight draws per sample of the global batch
        const auto img = image(draw(opt_.seed, iter, k) % files_.size());
        SR_CHECK(img->h >= p && img->w >= p, "data: image ", files_[0].hr, " is smaller than the patch");
        const int64_t y = draw(opt_.seed, iter, k + 1) % (img->h - p + 1), x = draw(opt_.seed, iter, k + 2) % (img->w - p + 1);
        const Flips f = draw_flips(iter, k);
        copy_crop(img->lr, img->h, img->w, y, x, p, f, lp + b * 3 * p * p);
        copy_crop(img->hr, img->h * s, img->w * s, y * s, x * s, P, f, hp + b * 3 * P * P);
    }
    return {lr, hr};
}

// HR crops for synthesized LR: pad to the crop size by reflection (bottom/right, edge not repeated),
// then a random crop with the same flips and rotations.
// Draws k + 3 .. k + 5 of a sample: its flips, when enabled.
Flips TrainData::draw_flips(int64_t iter, uint64_t k) const {
    return {opt_.hflip && (draw(opt_.seed, iter, k + 3) & 1), opt_.rotation && (draw(opt_.seed, iter, k + 4) & 1),
            opt_.rotation && (draw(opt_.seed, iter, k + 5) & 1)};
}

Tensor TrainData::make_hr_batch(int64_t iter) {
    const int64_t B = opt_.batch, P = opt_.patch * opt_.scale;
    Tensor hr = Tensor::empty({B, 3, P, P}, DType::F32, Device::cpu());
    float* hp = hr.data<float>();
    for (int64_t b = 0; b < B; ++b) {
        const uint64_t k = static_cast<uint64_t>(opt_.first_sample + b) * 8;
        const auto img = image(draw(opt_.seed, iter, k) % files_.size());
        const int64_t H = std::max(img->h, P), W = std::max(img->w, P);
        const int64_t y = draw(opt_.seed, iter, k + 1) % (H - P + 1), x = draw(opt_.seed, iter, k + 2) % (W - P + 1);
        copy_crop(img->hr, img->h, img->w, y, x, P, draw_flips(iter, k), hp + b * 3 * P * P);
    }
    return hr;
}

void TrainData::worker() {
    while (true) {
        int64_t iter;
        {
            std::unique_lock<std::mutex> lock(mutex_);
            changed_.wait(lock, [&] { return stopping_ || next_to_make_ <= consumed_ + opt_.prefetch; });
            if (stopping_) return;
            iter = next_to_make_++;
        }
        try {
            auto made = make_batch(iter);
            std::lock_guard<std::mutex> lock(mutex_);
            ready_[iter] = std::move(made);
        } catch (const std::exception& e) {
            std::lock_guard<std::mutex> lock(mutex_);
            failed_[iter] = e.what();
        }
        changed_.notify_all();
    }
}

std::pair<Tensor, Tensor> TrainData::batch(int64_t iter) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (threads_.empty()) {  // the first request starts the workers at this iteration
        next_to_make_ = iter;
        consumed_ = iter - 1;
        for (int t = 0; t < std::max(1, opt_.workers); ++t) threads_.emplace_back([this] { worker(); });
    }
    SR_CHECK(iter == consumed_ + 1, "data: batches must be asked for in order (expected ", consumed_ + 1, ", got ", iter, ")");
    changed_.wait(lock, [&] { return ready_.count(iter) || failed_.count(iter); });
    if (failed_.count(iter)) fail(failed_[iter]);
    auto out = std::move(ready_[iter]);
    ready_.erase(iter);
    consumed_ = iter;
    lock.unlock();
    changed_.notify_all();
    return out;
}

}  // namespace sr
