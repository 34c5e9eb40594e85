#include "tools/serve/jobs.h"

#include <random>

#include "core/image_io.h"
#include "models/upscale.h"
#include "train/imresize.h"

namespace sr::serve {

namespace {

// 128 random bits: another user cannot guess a job's id and fetch its result.
std::string new_id() {
    static std::mutex mutex;
    static std::random_device device;
    const std::lock_guard<std::mutex> lock(mutex);
    static const char* digits = "0123456789abcdef";
    std::string id;
    for (int i = 0; i < 4; ++i) {
        const uint32_t r = device();
        for (int k = 0; k < 8; ++k) id += digits[(r >> (4 * k)) & 15];
    }
    return id;
}

bool finished(JobState s) { return s == JobState::Done || s == JobState::Failed || s == JobState::Cancelled; }

JobResult encode(const Tensor& image, const std::string& format, int bits) {
    if (format == "jpeg") return {encode_jpeg(image, 95), "image/jpeg"};
    return {encode_png(image, bits), "image/png"};
}

}  // namespace

const char* state_name(JobState s) {
    switch (s) {
        case JobState::Queued: return "queued";
        case JobState::Running: return "running";
        case JobState::Done: return "done";
        case JobState::Failed: return "failed";
        case JobState::Cancelled: return "cancelled";
    }
    return "?";
}

JobQueue::JobQueue(Catalog& catalog, Device device, size_t max_waiting, std::chrono::seconds keep, size_t max_kept_bytes)
    : catalog_(catalog), device_(device), max_waiting_(max_waiting), max_kept_bytes_(max_kept_bytes), keep_(keep), worker_([this] { work(); }) {}

JobQueue::~JobQueue() {
    {
        const std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
        for (auto& [id, job] : jobs_) job.cancel = true;
    }
    wake_.notify_all();
    worker_.join();
}

std::optional<std::string> JobQueue::submit(std::string image, JobOptions options) {
    const std::lock_guard<std::mutex> lock(mutex_);
    forget_expired();
    if (queue_.size() >= max_waiting_) return std::nullopt;
    const std::string id = new_id();
    Job& job = jobs_[id];
    job.image = std::move(image);
    job.status.model = options.model;
    job.options = std::move(options);
    queue_.push_back(id);
    wake_.notify_one();
    return id;
}

std::optional<JobStatus> JobQueue::status(const std::string& id) {
    const std::lock_guard<std::mutex> lock(mutex_);
    forget_expired();
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return std::nullopt;
    JobStatus s = it->second.status;
    for (size_t i = 0; i < queue_.size(); ++i)
        if (queue_[i] == id) s.position = int64_t(i) + 1;
    return s;
}

std::optional<JobResult> JobQueue::take(const std::string& id, bool bicubic) {
    const std::lock_guard<std::mutex> lock(mutex_);
    forget_expired();
    auto it = jobs_.find(id);
    if (it == jobs_.end() || it->second.status.state != JobState::Done) return std::nullopt;
    if (bicubic) return it->second.bicubic;
    JobResult out = std::move(it->second.result);
    jobs_.erase(it);
    return out;
}

CancelResult JobQueue::cancel(const std::string& id) {
    const std::lock_guard<std::mutex> lock(mutex_);
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return CancelResult::NoSuchJob;
    Job& job = it->second;
    if (finished(job.status.state)) return CancelResult::AlreadyFinished;
    job.cancel = true;
    if (job.status.state == JobState::Queued) {
        std::erase(queue_, id);
        job.status.state = JobState::Cancelled;
        job.image.clear();
        job.finished = std::chrono::steady_clock::now();
    }
    return CancelResult::Cancelled;
}

size_t JobQueue::waiting() {
    const std::lock_guard<std::mutex> lock(mutex_);
    return queue_.size();
}

void JobQueue::forget_expired() {
    const auto now = std::chrono::steady_clock::now();
    std::erase_if(jobs_, [&](const auto& entry) { return finished(entry.second.status.state) && now - entry.second.finished > keep_; });
}

// Results nobody downloads must not fill the memory: past the budget, the oldest go first.
void JobQueue::keep_within_budget() {
    forget_expired();
    while (true) {
        size_t kept = 0;
        auto oldest = jobs_.end();
        for (auto it = jobs_.begin(); it != jobs_.end(); ++it) {
            if (it->second.status.state != JobState::Done) continue;
            kept += it->second.result.bytes.size() + it->second.bicubic.bytes.size();
            if (oldest == jobs_.end() || it->second.finished < oldest->second.finished) oldest = it;
        }
        if (kept <= max_kept_bytes_ || oldest == jobs_.end()) return;
        jobs_.erase(oldest);
    }
}

// The next job leaves the queue and starts running in one step under the lock, so a cancel sees
// it either waiting (and removes it) or running (and stops it between tiles).
void JobQueue::work() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (true) {
        wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (stopping_) return;
        const std::string id = queue_.front();
        queue_.pop_front();
        Job& job = jobs_.at(id);
        job.status.state = JobState::Running;
        std::string image = std::move(job.image);
        const JobOptions options = job.options;
        lock.unlock();
        run(id, image, options);
        lock.lock();
        keep_within_budget();
    }
}

// One job, its errors (bad image, unusable model, cancellation) kept as its state.
void JobQueue::run(const std::string& id, const std::string& image, const JobOptions& options) {
    JobState end = JobState::Done;
    std::string error;
    try {
        upscale(id, image, options);
    } catch (const Cancelled&) {
        end = JobState::Cancelled;
    } catch (const std::exception& e) {  // sr::Error, and std::bad_alloc for an image too large for memory
        end = JobState::Failed;
        error = e.what();
    }
    const std::lock_guard<std::mutex> lock(mutex_);
    Job& job = jobs_.at(id);
    job.status.state = end;
    job.status.error = error;
    job.finished = std::chrono::steady_clock::now();
}

void JobQueue::upscale(const std::string& id, const std::string& bytes, const JobOptions& options) {
    ModelInfo info;
    std::shared_ptr<Network> net = catalog_.load(options.model, &info);
    net->to(device_);
    ImageInfo image_info;
    const Tensor image = decode_image(bytes, "the uploaded image", 0, &image_info);
    UpscaleOptions o;
    o.tile = options.tile;
    o.self_ensemble = options.self_ensemble;
    o.device = device_;
    o.progress = [&](int64_t done, int64_t total) {
        const std::lock_guard<std::mutex> lock(mutex_);
        Job& job = jobs_.at(id);
        job.status.tiles_done = done;
        job.status.tiles_total = total;
        if (job.cancel) throw Cancelled{};
    };
    o.progress(0, 1);  // a job cancelled while its model loaded stops here
    const Tensor result = upscale_image(*net, image, o);
    const Tensor bicubic = imresize(image, double(info.scale));  // encoding clamps to [0, 1]
    JobResult encoded = encode(result, options.format, image_info.bits), compare = encode(bicubic, options.format, image_info.bits);
    const std::lock_guard<std::mutex> lock(mutex_);
    Job& job = jobs_.at(id);
    job.result = std::move(encoded);
    job.bicubic = std::move(compare);
    job.status.width = result.size(2);
    job.status.height = result.size(1);
}

}  // namespace sr::serve
