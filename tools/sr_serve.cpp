// sr_serve: a web page for upscaling photos with the networks in one folder, and the JSON API
// under it (README "sr_serve"). HTTP by cpp-httplib (Debian's libcpp-httplib-dev); the page is
// tools/serve/index.html, compiled in.
//
//   sr_serve --models runs/demo [--host 127.0.0.1] [--port 8080]
//
// API:
//   GET    /api/models                 [{"name", "spec", "architecture", "scale", "parameters", "error"}]
//   POST   /api/upscale                multipart form: file (PNG, JPEG or BMP), model (a name from
//                                      /api/models), tile ("auto" or LR pixels), self_ensemble ("1"),
//                                      format ("png" or "jpeg") -> 202 {"id", "position"}; 503 when busy
//   GET    /api/jobs/ID                {"state": queued|running|done|failed|cancelled, "position",
//                                      "tiles_done", "tiles_total", "width", "height", "error"}
//   GET    /api/jobs/ID/result         the upscaled image; the job is then forgotten
//   GET    /api/jobs/ID/result?image=bicubic   the bicubic upscale of the same size, to compare
//   DELETE /api/jobs/ID                cancels it (queued, or between two tiles)
// Errors are {"error": "..."} with a 4xx/5xx status.
#include <httplib.h>

#include <csignal>
#include <cstdio>
#include <thread>

#include "core/image_decoders.h"
#include "core/json.h"
#include "tools/cli.h"
#include "tools/serve/catalog.h"
#include "tools/serve/jobs.h"
#include "tools/serve/page.h"

using namespace sr;
using namespace sr::serve;

namespace {

struct ServeArgs {
    std::string models, host = "127.0.0.1";
    int port = 8080;
    Device device = Device::cpu();
    int64_t max_upload_mb = 32, max_pixels = 2048 * 2048, queue = 8, keep_seconds = 600, keep_mb = 1024;
};

ServeArgs parse(int argc, char** argv) {
    ServeArgs o;
    Cli cli("sr_serve", "--models DIR [--host H] [--port P] [--device cpu|cuda]",
            "Serves a web page (and a JSON API) that upscales photos with the networks in DIR.");
    cli.string_flag("--models", "DIR", "the folder of weights files to offer (safetensors, .pth, .hdf5)", o.models);
    cli.string_flag("--host", "H", "the address to listen on (0.0.0.0: every network)", o.host);
    cli.integer_flag("--port", "P", "the port; 0: any free one (printed)", o.port, 0, 65535);
    cli.device_flag("--device", "where the networks run", o.device);
    cli.integer_flag("--max-upload-mb", "N", "largest upload accepted", o.max_upload_mb, 1, 4096);
    cli.integer_flag("--max-pixels", "N", "most pixels an uploaded image may have", o.max_pixels, 1, int64_t(1) << 32);
    cli.integer_flag("--queue", "N", "jobs that may wait for the device; more get 'busy'", o.queue, 1, 10000);
    cli.integer_flag("--keep", "SECONDS", "how long a result waits for its download", o.keep_seconds, 1, 86400);
    cli.integer_flag("--keep-mb", "N", "most memory results waiting for their download may take (the oldest go first)", o.keep_mb, 1,
                     1 << 20);
    cli.parse(argc, argv);
    SR_CHECK(!o.models.empty(), "--models is required (see --help)");
    return o;
}

void reply(httplib::Response& res, int status, const std::string& json) {
    res.status = status;
    res.set_content(json, "application/json");
}

void error(httplib::Response& res, int status, const std::string& message) { reply(res, status, "{\"error\": " + json_quote(message) + "}"); }

std::string models_json(const std::vector<ModelInfo>& models) {
    std::string out = "[";
    for (const ModelInfo& m : models) {
        out += std::string(out.size() > 1 ? ", " : "") + "{\"name\": " + json_quote(m.name) + ", \"spec\": " + json_quote(m.spec) +
               ", \"architecture\": " + json_quote(m.architecture) + ", \"scale\": " + std::to_string(m.scale) +
               ", \"parameters\": " + std::to_string(m.parameters) + ", \"error\": " + json_quote(m.error) + "}";
    }
    return out + "]";
}

std::string status_json(const std::string& id, const JobStatus& s) {
    return "{\"id\": " + json_quote(id) + ", \"state\": \"" + state_name(s.state) + "\", \"position\": " + std::to_string(s.position) +
           ", \"tiles_done\": " + std::to_string(s.tiles_done) + ", \"tiles_total\": " + std::to_string(s.tiles_total) +
           ", \"model\": " + json_quote(s.model) + ", \"width\": " + std::to_string(s.width) + ", \"height\": " + std::to_string(s.height) +
           ", \"error\": " + json_quote(s.error) + "}";
}

std::string field(const httplib::Request& req, const std::string& name) {
    return req.has_file(name) ? req.get_file_value(name).content : "";
}

// The form's options, checked; the model must be one the catalog lists.
JobOptions job_options(const httplib::Request& req, Catalog& catalog) {
    JobOptions o;
    o.model = field(req, "model");
    const std::vector<ModelInfo> models = catalog.list();
    const bool known = std::any_of(models.begin(), models.end(), [&](const ModelInfo& m) { return m.name == o.model && m.error.empty(); });
    SR_CHECK(known, o.model.empty() ? "no model chosen" : "no usable model named '" + o.model.substr(0, 200) + "'");
    const std::string tile = field(req, "tile");
    if (!tile.empty() && tile != "auto") {
        SR_CHECK(tile.size() <= 5 && tile.find_first_not_of("0123456789") == std::string::npos, "tile must be 'auto' or a number of pixels");
        o.tile = std::stoll(tile);
        SR_CHECK(o.tile == 0 || (o.tile >= 16 && o.tile <= 1024), "tile must be 'auto' or 16..1024 pixels, got ", o.tile);
    }
    const std::string ensemble = field(req, "self_ensemble");
    o.self_ensemble = ensemble == "1" || ensemble == "true" || ensemble == "on";
    o.format = field(req, "format").empty() ? "png" : field(req, "format");
    SR_CHECK(o.format == "png" || o.format == "jpeg", "format must be png or jpeg");
    return o;
}

// POST /api/upscale: the image's header is checked here (kind, size) so that a bad upload is
// answered at once, before it waits in the queue.
void upscale(const httplib::Request& req, httplib::Response& res, Catalog& catalog, JobQueue& jobs, const ServeArgs& args) {
    if (!req.is_multipart_form_data()) return error(res, 400, "expected a multipart/form-data upload with a 'file' field");
    if (!req.has_file("file") || req.get_file_value("file").content.empty()) return error(res, 400, "no image in the 'file' field");
    JobOptions options;
    ImageInfo info;
    std::string image = req.get_file_value("file").content;
    try {
        options = job_options(req, catalog);
        info = image_decoders::read_info(image, "the uploaded image");
    } catch (const Error& e) {
        return error(res, 400, e.what());
    }
    if (int64_t(info.width) * info.height > args.max_pixels)
        return error(res, 413, "the image is " + std::to_string(info.width) + "x" + std::to_string(info.height) + " pixels; this server takes at most " +
                                   std::to_string(args.max_pixels) + " (--max-pixels)");
    const std::optional<std::string> id = jobs.submit(std::move(image), std::move(options));
    if (!id) {
        res.set_header("Retry-After", "5");
        return error(res, 503, "busy: " + std::to_string(args.queue) + " jobs are already waiting; try again in a moment");
    }
    reply(res, 202, "{\"id\": " + json_quote(*id) + ", \"position\": " + std::to_string(jobs.status(*id).value_or(JobStatus{}).position) + "}");
}

// --max-upload-mb is checked against Content-Length, so a body must have one: chunked or
// compressed uploads (which could expand past any limit) are refused before they are read.
httplib::Server::HandlerResponse refuse_unbounded_bodies(const httplib::Request& req, httplib::Response& res) {
    if (req.method != "POST" && req.method != "PUT") return httplib::Server::HandlerResponse::Unhandled;
    if (req.has_header("Transfer-Encoding") || !req.has_header("Content-Length"))
        error(res, 411, "an upload needs a Content-Length (chunked uploads are not accepted)");
    else if (req.has_header("Content-Encoding"))
        error(res, 415, "compressed uploads are not accepted");
    else
        return httplib::Server::HandlerResponse::Unhandled;
    res.set_header("Connection", "close");  // its body was not read: the connection cannot carry another request
    return httplib::Server::HandlerResponse::Handled;
}

void routes(httplib::Server& svr, Catalog& catalog, JobQueue& jobs, const ServeArgs& args) {
    svr.Get("/", [](const httplib::Request&, httplib::Response& res) { res.set_content(kPage, "text/html; charset=utf-8"); });
    svr.Get("/api/models", [&](const httplib::Request&, httplib::Response& res) { reply(res, 200, models_json(catalog.list())); });
    svr.Post("/api/upscale", [&](const httplib::Request& req, httplib::Response& res) { upscale(req, res, catalog, jobs, args); });
    svr.Get(R"(/api/jobs/([0-9a-f]{32}))", [&](const httplib::Request& req, httplib::Response& res) {
        const std::optional<JobStatus> s = jobs.status(req.matches[1]);
        s ? reply(res, 200, status_json(req.matches[1], *s)) : error(res, 404, "no such job (finished results are kept until downloaded, or for a while)");
    });
    svr.Get(R"(/api/jobs/([0-9a-f]{32})/result)", [&](const httplib::Request& req, httplib::Response& res) {
        // The result is handed over once: a HEAD or a partial GET must not use that up.
        if (req.method == "HEAD") return error(res, 405, "GET the result (it is sent once, whole)");
        if (req.has_header("Range")) return error(res, 416, "the result is sent whole (ranges are not supported)");
        const std::optional<JobResult> r = jobs.take(req.matches[1], req.get_param_value("image") == "bicubic");
        if (!r) return error(res, 404, "no finished result for this job (not done yet, or already downloaded)");
        res.set_content(r->bytes, r->content_type.c_str());
    });
    svr.Delete(R"(/api/jobs/([0-9a-f]{32}))", [&](const httplib::Request& req, httplib::Response& res) {
        switch (jobs.cancel(req.matches[1])) {
            case CancelResult::Cancelled: return reply(res, 200, "{\"cancelled\": true}");
            case CancelResult::AlreadyFinished: return error(res, 409, "the job has already finished");
            case CancelResult::NoSuchJob: return error(res, 404, "no such job");
        }
    });
    svr.set_error_handler([](const httplib::Request&, httplib::Response& res) {
        if (res.body.empty()) error(res, res.status, res.status == 413 ? "the upload is larger than this server takes (--max-upload-mb)"
                                                     : res.status == 404 ? "not found" : "bad request");
    });
    svr.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr e) {
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& x) {
            error(res, 500, x.what());
        } catch (...) {
            error(res, 500, "internal error");
        }
    });
    svr.set_pre_routing_handler(refuse_unbounded_bodies);
}

sigset_t stop_signals() {
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    return signals;
}

// SIGINT and SIGTERM stop the server cleanly (the running job stops at its next tile); a second
// one ends the process at once. main blocks them before any thread starts (OpenMP's included), so
// only this thread receives them.
void stop_on_signals(httplib::Server& svr) {
    std::thread([&svr] {
        const sigset_t signals = stop_signals();
        int got = 0;
        sigwait(&signals, &got);
        while (!svr.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(10));  // a signal before listen began
        svr.stop();
        sigwait(&signals, &got);
        std::_Exit(128 + got);
    }).detach();
}

}  // namespace

int main(int argc, char** argv) {
    const sigset_t signals = stop_signals();
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    return run_tool("sr_serve", [&] {
        const ServeArgs args = parse(argc, argv);
        Catalog catalog(args.models);
        const std::vector<ModelInfo> models = catalog.list();
        httplib::Server svr;
        stop_on_signals(svr);
        JobQueue jobs(catalog, args.device, size_t(args.queue), std::chrono::seconds(args.keep_seconds), size_t(args.keep_mb) << 20);
        svr.set_payload_max_length(size_t(args.max_upload_mb) << 20);
        routes(svr, catalog, jobs, args);
        const int port = args.port == 0 ? svr.bind_to_any_port(args.host) : (svr.bind_to_port(args.host, args.port) ? args.port : -1);
        SR_CHECK(port > 0, "cannot listen on ", args.host, ":", args.port, " (in use, or not an address of this machine?)");
        std::printf("sr_serve: %zu models from %s; open http://%s:%d/\n", models.size(), args.models.c_str(), args.host.c_str(), port);
        std::fflush(stdout);
        SR_CHECK(svr.listen_after_bind(), "the server stopped with an error");
        std::printf("sr_serve: stopped\n");
        return 0;
    });
}
