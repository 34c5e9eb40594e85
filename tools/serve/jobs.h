// sr_serve's work: upscaling jobs, run one at a time on the device by one worker thread, in the
// order they came. The others wait in a bounded queue and can see their place in it; a full
// queue answers "busy" rather than growing. A job can be cancelled while it waits or between two
// tiles. Results wait for their one download, or until `keep` has passed, then they are gone; and
// when the results nobody fetched outgrow `max_kept_bytes`, the oldest of them go first.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "core/device.h"
#include "tools/serve/catalog.h"

namespace sr::serve {

struct JobOptions {
    std::string model;          // a file name from the catalog
    int64_t tile = 0;           // LR pixels per tile side; 0: automatic (models/upscale.h)
    bool self_ensemble = false;
    std::string format = "png"; // "png" (the input's bit depth, as sr_upscale writes) or "jpeg"
};

enum class JobState { Queued, Running, Done, Failed, Cancelled };
const char* state_name(JobState s);

struct JobStatus {
    JobState state = JobState::Queued;
    int64_t position = 0;  // 1 for the next to run, while queued
    int64_t tiles_done = 0, tiles_total = 0;
    std::string error;
    std::string model;
    int64_t width = 0, height = 0;  // the result's, once done
};

enum class CancelResult { Cancelled, AlreadyFinished, NoSuchJob };

struct JobResult {
    std::string bytes;
    std::string content_type;
};

class JobQueue {
public:
    JobQueue(Catalog& catalog, Device device, size_t max_waiting, std::chrono::seconds keep, size_t max_kept_bytes);
    ~JobQueue();  // cancels what is left and stops the worker
    JobQueue(const JobQueue&) = delete;
    JobQueue& operator=(const JobQueue&) = delete;

    // A new job's id, or nullopt when the queue is full (busy).
    std::optional<std::string> submit(std::string image, JobOptions options);
    std::optional<JobStatus> status(const std::string& id);
    // The upscaled image (after which the job is forgotten), or the bicubic one of the same size
    // (for comparing; the job stays). nullopt when there is no such finished job.
    std::optional<JobResult> take(const std::string& id, bool bicubic);
    CancelResult cancel(const std::string& id);
    size_t waiting();

private:
    struct Job {
        std::string image;  // the upload, until decoded
        JobOptions options;
        JobStatus status;
        bool cancel = false;
        JobResult result, bicubic;
        std::chrono::steady_clock::time_point finished;
    };
    struct Cancelled {};

    void work();
    void run(const std::string& id, const std::string& image, const JobOptions& options);
    void upscale(const std::string& id, const std::string& image, const JobOptions& options);
    void forget_expired();       // with mutex_ held
    void keep_within_budget();   // with mutex_ held

    Catalog& catalog_;
    Device device_;
    size_t max_waiting_, max_kept_bytes_;
    std::chrono::seconds keep_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::map<std::string, Job> jobs_;
    std::deque<std::string> queue_;
    bool stopping_ = false;
    std::thread worker_;
};

}  // namespace sr::serve
