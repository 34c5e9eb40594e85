// sr_serve end to end (CTest target test_serve): the JSON API (results equal to sr_upscale's byte
// for byte, errors, limits, cancellation, a full queue), 20 concurrent uploads with the server's
// peak memory, and the page itself in headless Chromium (Debian's chromium, driven by
// playwright-core from npm; tools/test.sh installs both). Only 127.0.0.1 is ever contacted.
//
//   node tests/serve/serve_test.js TOOLS_DIR SOURCE_DIR OUT_DIR
"use strict";
const { spawn, execFile } = require("child_process");
const fs = require("fs");
const path = require("path");

const [toolsDir, sourceDir, outDir] = process.argv.slice(2);
const fixtures = path.join(sourceDir, "tests", "fixtures");
const photo = path.join(sourceDir, "data", "demo", "DIV2K_valid_LR_bicubic", "X2", "0801x2.png");
let failures = 0;

function check(ok, what) {
  console.log((ok ? "ok   " : "FAIL ") + what);
  if (!ok) failures++;
}

// A folder of models: two networks and a file that is not one.
function modelFolder() {
  const dir = path.join(outDir, "models");
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  fs.copyFileSync(path.join(fixtures, "pth", "edsr_params_zip.pth"), path.join(dir, "edsr_x2.pth"));
  fs.copyFileSync(path.join(fixtures, "hdf5", "isr_rdn.hdf5"), path.join(dir, "isr_rdn_x2.hdf5"));
  fs.writeFileSync(path.join(dir, "broken.safetensors"), "not weights");
  return dir;
}

// sr_serve on a free port of 127.0.0.1; resolves once it prints its address.
function start(models, extra = []) {
  return new Promise((resolve, reject) => {
    const proc = spawn(path.join(toolsDir, "sr_serve"), ["--models", models, "--port", "0", ...extra], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    const timer = setTimeout(() => reject(new Error("sr_serve did not start: " + out)), 20000);
    proc.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/open (http:\/\/127\.0\.0\.1:\d+)\//);
      if (m) { clearTimeout(timer); resolve({ proc, url: m[1] }); }
    });
    proc.stderr.on("data", (d) => { out += d; });
    proc.on("exit", (code) => reject(new Error("sr_serve exited with " + code + ": " + out)));
  });
}

// SIGTERM, then the exit: a clean stop says so and exits 0.
function stop(server) {
  server.proc.removeAllListeners("exit");
  let out = "";
  server.proc.stdout.on("data", (d) => { out += d; });
  return new Promise((resolve) => {
    const timer = setTimeout(() => { server.proc.kill("SIGKILL"); resolve({ code: "killed after 30 s", out }); }, 30000);
    server.proc.on("exit", (code) => { clearTimeout(timer); resolve({ code, out }); });
    server.proc.kill("SIGTERM");
  });
}

async function upload(url, file, fields) {
  const form = new FormData();
  if (file) form.append("file", new Blob([fs.readFileSync(file)]), path.basename(file));
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  const res = await fetch(url + "/api/upscale", { method: "POST", body: form });
  return { status: res.status, body: await res.json() };
}

async function finish(url, id, seconds = 120) {
  for (const end = Date.now() + seconds * 1000; Date.now() < end;) {
    const s = await (await fetch(url + "/api/jobs/" + id)).json();
    if (!["queued", "running"].includes(s.state)) return s;
    await new Promise((r) => setTimeout(r, 50));
  }
  return { state: "timed out" };
}

// Asynchronous, so that the event loop keeps serving the client's pooled connections meanwhile (a
// blocked loop misses the server closing an idle one, and the next request fails on it).
function srUpscale(models, name, input, extra, output) {
  return new Promise((resolve, reject) => {
    execFile(path.join(toolsDir, "sr_upscale"), ["--quiet", "--weights", path.join(models, name), "--input", input, "--output", output, ...extra],
             (error) => (error ? reject(error) : resolve(fs.readFileSync(output))));
  });
}

// A PNG whose header claims width x height pixels; its one (empty) IDAT chunk holds none of them.
function hugePng(width, height) {
  const crcTable = Array.from({ length: 256 }, (_, n) => { let c = n; for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; return c >>> 0; });
  const crc = (b) => { let c = 0xffffffff; for (const x of b) c = crcTable[(c ^ x) & 255] ^ (c >>> 8); return (c ^ 0xffffffff) >>> 0; };
  const ihdr = Buffer.alloc(17);
  ihdr.write("IHDR", 0);
  ihdr.writeUInt32BE(width, 4);
  ihdr.writeUInt32BE(height, 8);
  ihdr.set([8, 2, 0, 0, 0], 12);
  const chunk = (type, data) => {
    const body = Buffer.concat([Buffer.from(type), data]), out = Buffer.alloc(body.length + 8);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc(body), body.length + 4);
    return out;
  };
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk("IHDR", ihdr.subarray(4)),
                        chunk("IDAT", Buffer.alloc(0)), chunk("IEND", Buffer.alloc(0))]);
}

async function apiTests(models) {
  const server = await start(models);
  const { url } = server;
  try {
    const listed = await (await fetch(url + "/api/models")).json();
    check(listed.map((m) => m.name).join(",") === "broken.safetensors,edsr_x2.pth,isr_rdn_x2.hdf5", "GET /api/models lists the folder's weights files by name");
    const edsr = listed.find((m) => m.name === "edsr_x2.pth");
    check(edsr.architecture === "edsr" && edsr.scale === 2 && edsr.parameters === 5699, "each with its architecture, scale and parameter count, read from the file");
    check(listed[0].error.includes("not a safetensors file") && !listed[0].error.includes(models), "a file that is no network is listed with its error, and no server path");

    for (const [name, extra, fields] of [["edsr_x2.pth", ["--tile", "48"], { tile: "48" }], ["isr_rdn_x2.hdf5", ["--self-ensemble"], { self_ensemble: "1" }]]) {
      const r = await upload(url, photo, { model: name, ...fields });
      const s = await finish(url, r.body.id);
      const bicubic = Buffer.from(await (await fetch(url + "/api/jobs/" + r.body.id + "/result?image=bicubic")).arrayBuffer());
      const got = Buffer.from(await (await fetch(url + "/api/jobs/" + r.body.id + "/result")).arrayBuffer());
      const want = await srUpscale(models, name, photo, extra, path.join(outDir, "want.png"));
      check(r.status === 202 && s.state === "done" && got.equals(want), "POST /api/upscale with " + name + " " + JSON.stringify(fields) + ": the result is sr_upscale's, byte for byte");
      check(s.tiles_total === (name === "edsr_x2.pth" ? 9 : 1) && s.tiles_done === s.tiles_total, "progress counts the real tiles (" + s.tiles_done + " of " + s.tiles_total + ")");
      check(bicubic.length > 0 && !bicubic.equals(got), "the bicubic image of the same size is there to compare");
      check((await fetch(url + "/api/jobs/" + r.body.id + "/result")).status === 404, "a result is gone once downloaded");
      check((await fetch(url + "/api/jobs/" + r.body.id, { method: "DELETE" })).status === 404, "a downloaded job cannot be cancelled: 404");
    }
    const kept = await upload(url, photo, { model: "edsr_x2.pth" });
    await finish(url, kept.body.id);
    check((await fetch(url + "/api/jobs/" + kept.body.id + "/result", { method: "HEAD" })).status === 405 &&
          (await fetch(url + "/api/jobs/" + kept.body.id + "/result", { headers: { Range: "bytes=0-9" } })).status === 416 &&
          (await fetch(url + "/api/jobs/" + kept.body.id, { method: "DELETE" })).status === 409 &&
          (await fetch(url + "/api/jobs/" + kept.body.id + "/result")).status === 200,
          "HEAD and ranges do not use up a result, a finished job cannot be cancelled (409), then GET has it");
    const jpeg = await upload(url, photo, { model: "edsr_x2.pth", format: "jpeg" });
    await finish(url, jpeg.body.id);
    const jres = await fetch(url + "/api/jobs/" + jpeg.body.id + "/result");
    check(jres.headers.get("content-type") === "image/jpeg", "format=jpeg gives a JPEG");

    const bad = [
      [await upload(url, path.join(fixtures, "hdf5", "isr_rdn.io.safetensors"), { model: "edsr_x2.pth" }), 400, "not a PNG, JPEG or BMP file"],
      [await upload(url, photo, { model: "../../etc/passwd" }), 400, "no usable model named '../../etc/passwd'"],
      [await upload(url, photo, { model: "broken.safetensors" }), 400, "no usable model named 'broken.safetensors'"],
      [await upload(url, photo, { model: "edsr_x2.pth", tile: "-3" }), 400, "tile must be 'auto' or a number"],
      [await upload(url, photo, { model: "edsr_x2.pth", format: "gif" }), 400, "format must be png or jpeg"],
      [await upload(url, null, { model: "edsr_x2.pth" }), 400, "no image in the 'file' field"],
    ];
    fs.writeFileSync(path.join(outDir, "huge.png"), hugePng(100000, 100000));
    bad.push([await upload(url, path.join(outDir, "huge.png"), { model: "edsr_x2.pth" }), 400, "100000x100000 pixels"]);
    fs.writeFileSync(path.join(outDir, "big.png"), hugePng(3000, 3000));
    bad.push([await upload(url, path.join(outDir, "big.png"), { model: "edsr_x2.pth" }), 413, "this server takes at most 4194304 (--max-pixels)"]);
    for (const [r, status, text] of bad) check(r.status === status && r.body.error.includes(text), "refused with " + status + ": " + r.body.error);

    const raw = async (headers, body) => (await fetch(url + "/api/upscale", { method: "POST", headers, body })).status;
    check(await raw({ "Content-Type": "text/plain" }, "hello") === 400, "a body that is not multipart: 400");
    check(await raw({ "Content-Type": "multipart/form-data; boundary=xx" }, "--xx\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc") === 400,
          "a multipart body cut short: 400");
    check((await fetch(url + "/api/jobs/0123456789abcdef0123456789abcdef")).status === 404, "an unknown job: 404");
    check((await fetch(url + "/api/nothing")).status === 404, "an unknown path: 404");

    // A corrupt image past its header fails in the job, with the decoder's words.
    const cut = fs.readFileSync(photo).subarray(0, 400);
    fs.writeFileSync(path.join(outDir, "cut.png"), cut);
    const c = await upload(url, path.join(outDir, "cut.png"), { model: "edsr_x2.pth" });
    const cs = await finish(url, c.body.id);
    check(cs.state === "failed" && cs.error.includes("cannot decode"), "a truncated PNG: the job fails with '" + cs.error + "'");
  } finally {
    const end = await stop(server);
    check(end.code === 0 && end.out.includes("sr_serve: stopped"), "SIGTERM stops the server cleanly (exit " + end.code + ")");
  }
}

// A queue of 2 and slow jobs (x8 self-ensemble, small tiles): places in line, 'busy', cancellation.
async function queueTests(models) {
  const server = await start(models, ["--queue", "2", "--max-upload-mb", "1"]);
  const { url } = server;
  try {
    fs.writeFileSync(path.join(outDir, "two_mb.png"), Buffer.concat([fs.readFileSync(photo), Buffer.alloc(2 << 20)]));
    const large = await upload(url, path.join(outDir, "two_mb.png"), { model: "edsr_x2.pth" }).catch((e) => ({ status: String(e), body: {} }));
    check(large.status === 413 && large.body.error.includes("--max-upload-mb"), "an upload over --max-upload-mb: 413 (" + large.status + ")");
    check((await rawHttp(url, "GARBAGE / NOTHTTP\r\n\r\n")).startsWith("HTTP/1.1 400"), "a request that is not HTTP: 400");
    check((await rawHttp(url, "POST /api/upscale HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n")).match(/^HTTP\/1.1 4\d\d/),
          "a hostile Content-Length: 4xx");
    check((await rawHttp(url, "POST /api/upscale HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n100000\r\n")).startsWith("HTTP/1.1 411"),
          "a chunked upload (which --max-upload-mb could not bound): 411");
    check((await rawHttp(url, "POST /api/upscale HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\nContent-Length: 10\r\n\r\n0123456789")).startsWith("HTTP/1.1 415"),
          "a compressed upload (which could expand past it): 415");
    const slow = { model: "isr_rdn_x2.hdf5", self_ensemble: "1", tile: "16" };
    const answers = [await upload(url, photo, slow)];
    while ((await (await fetch(url + "/api/jobs/" + answers[0].body.id)).json()).state === "queued") await new Promise((r) => setTimeout(r, 20));
    for (let i = 0; i < 4; i++) answers.push(await upload(url, photo, slow));  // the first is running: 2 may wait
    const accepted = answers.filter((a) => a.status === 202), busy = answers.filter((a) => a.status === 503);
    check(accepted.length === 3 && busy.length === 2 && busy[0].body.error.startsWith("busy:"), "a full queue answers 503 'busy' (3 taken, 2 busy)");
    const waiting = await (await fetch(url + "/api/jobs/" + accepted[2].body.id)).json();
    check(waiting.state === "queued" && waiting.position === 2, "a waiting job sees its place in the queue (" + waiting.position + ")");
    for (const a of accepted) await fetch(url + "/api/jobs/" + a.body.id, { method: "DELETE" });
    const states = await Promise.all(accepted.map((a) => finish(url, a.body.id)));
    check(states.every((s) => s.state === "cancelled"), "DELETE cancels running and waiting jobs: " + states.map((s) => s.state).join(", "));
  } finally {
    await stop(server);
  }
}

// Bytes written straight to the server's socket; its first line of answer.
function rawHttp(url, text) {
  const net = require("net");
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), hostname, () => socket.write(text));
    let answer = "";
    socket.on("data", (d) => { answer += d; if (answer.includes("\r\n")) { socket.destroy(); resolve(answer.split("\r\n")[0]); } });
    socket.on("error", (e) => resolve("socket error: " + e.message));
    socket.on("close", () => resolve(answer.split("\r\n")[0] || "closed without an answer"));
    socket.setTimeout(30000, () => { socket.destroy(); resolve("no answer in 30 s"); });
  });
}

function peakRssMb(pid) {
  const status = fs.readFileSync("/proc/" + pid + "/status", "utf8");
  return Number(status.match(/VmHWM:\s+(\d+) kB/)[1]) / 1024;
}

async function loadTest(models) {
  const server = await start(models);
  const { url } = server;
  try {
    const image = path.join(fixtures, "images", "rgba8.png");
    const t0 = Date.now();
    const ends = await Promise.all(Array.from({ length: 20 }, async () => {
      const r = await upload(url, image, { model: "edsr_x2.pth" });
      if (r.status === 503) return "busy";
      if (r.status !== 202) return "error " + r.status;
      const s = await finish(url, r.body.id, 60);
      if (s.state !== "done") return s.state;
      const res = await fetch(url + "/api/jobs/" + r.body.id + "/result");
      return res.ok ? "result" : "lost";
    }));
    const results = ends.filter((e) => e === "result").length, busy = ends.filter((e) => e === "busy").length;
    check(results + busy === 20 && results >= 9, "20 concurrent uploads: " + results + " results, " + busy + " busy, in " + (Date.now() - t0) + " ms");
    check((await fetch(url + "/api/models")).ok, "the server keeps serving after them");
    const rss = peakRssMb(server.proc.pid);
    console.log("     sr_serve peak RSS: " + rss.toFixed(0) + " MiB");
    check(rss < 1024, "its memory stays bounded (peak RSS " + rss.toFixed(0) + " MiB < 1 GiB)");
  } finally {
    await stop(server);
  }
}

async function browserTest(models) {
  const { chromium } = require("playwright-core");
  const server = await start(models);
  const browser = await chromium.launch({ executablePath: process.env.SR_CHROMIUM || "/usr/bin/chromium", args: ["--no-sandbox"] });
  try {
    const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
    await page.goto(server.url + "/");
    await page.waitForSelector("#model option[value='edsr_x2.pth']", { state: "attached" });
    await page.selectOption("#model", "edsr_x2.pth");
    check((await page.textContent("#model-info")).startsWith("edsr:"), "the page shows the chosen model's spec");
    await page.setInputFiles("#files", photo);
    await page.click("#start");
    const link = await page.waitForSelector("a.download", { timeout: 120000 });
    const [download] = await Promise.all([page.waitForEvent("download"), link.click()]);
    const saved = path.join(outDir, "downloaded.png");
    await download.saveAs(saved);
    const want = await srUpscale(models, "edsr_x2.pth", photo, [], path.join(outDir, "want_browser.png"));
    check(fs.readFileSync(saved).equals(want) && download.suggestedFilename() === "0801x2_x2.png",
          "in Chromium: upload, pick a model, wait, download; the file is sr_upscale's, byte for byte (" + download.suggestedFilename() + ")");
    await page.screenshot({ path: path.join(outDir, "sr_serve.png") });

    // Several files at once: a job, a progress bar and a result for each.
    const second = path.join(sourceDir, "data", "demo", "DIV2K_valid_LR_bicubic", "X2", "0802x2.png");
    await page.setInputFiles("#files", [photo, second]);
    await page.click("#start");
    await page.waitForFunction(() => document.querySelectorAll("a.download").length === 3, null, { timeout: 120000 });
    const names = await page.$$eval("a.download", (links) => links.map((a) => a.download).sort());
    check(names.join(",") === "0801x2_x2.png,0801x2_x2.png,0802x2_x2.png", "two files chosen at once: two results (" + names.join(", ") + ")");

    // A full queue: the page waits as Retry-After says and tries again, so every file gets its result.
    const narrow = await start(models, ["--queue", "1"]);
    const busyPage = await browser.newPage();
    await busyPage.goto(narrow.url + "/");
    await busyPage.waitForSelector("#model option[value='isr_rdn_x2.hdf5']", { state: "attached" });
    await busyPage.selectOption("#model", "isr_rdn_x2.hdf5");
    await busyPage.check("#ensemble");
    const four = ["0801x2.png", "0802x2.png", "0803x2.png", "0804x2.png"].map((f) => path.join(path.dirname(photo), f));
    await busyPage.setInputFiles("#files", four);
    await busyPage.click("#start");
    const sawBusy = await busyPage.waitForFunction(() => document.body.textContent.includes("the server is busy"), null, { timeout: 60000 })
      .then(() => true, () => false);
    await busyPage.waitForFunction(() => document.querySelectorAll("a.download").length === 4, null, { timeout: 240000 });
    check(sawBusy, "four files on a server with a queue of 1: the page said it was busy, retried, and got all four results");
    await busyPage.close();
    await stop(narrow);

    fs.writeFileSync(path.join(outDir, "corrupt.png"), Buffer.concat([fs.readFileSync(photo).subarray(0, 40), Buffer.alloc(200, 7)]));
    await page.setInputFiles("#files", path.join(outDir, "corrupt.png"));
    await page.click("#start");
    const error = await page.waitForSelector(".job .status.error", { timeout: 60000 });
    const text = await error.textContent();
    check(/cannot decode|not a PNG/.test(text), "a corrupt file: the page says why in words ('" + text + "')");
  } finally {
    await browser.close();
    await stop(server);
  }
}

(async () => {
  fs.mkdirSync(outDir, { recursive: true });
  const models = modelFolder();
  for (const test of [apiTests, queueTests, loadTest, browserTest]) {
    try {
      await test(models);
    } catch (e) {
      check(false, test.name + " threw: " + (e.stack || e));
    }
  }
  console.log(failures ? failures + " checks failed" : "all sr_serve checks passed");
  process.exit(failures ? 1 : 0);
})();
