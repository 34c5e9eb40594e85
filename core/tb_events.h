// TensorBoard event files, scalars only: what `logger.use_tb_logger: true` writes, readable by
// `tensorboard --logdir` with no TensorFlow on our side.
//
// A file is a stream of TFRecords, each holding one serialized tensorflow.Event:
//   uint64 length | uint32 masked crc32c(length bytes) | data | uint32 masked crc32c(data)
// all little-endian, masked = ((crc >> 15) | (crc << 17)) + 0xa282ead8. The first Event carries
// file_version "brain.Event:2"; every later one a Summary with one simple_value.
//
//   TensorBoardWriter tb("experiments/x/tb_logger");
//   tb.add_scalar("losses/l_pix", 0.0213, iter);
//   tb.flush();  // one write per logging step; a killed run leaves every flushed batch readable
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace sr {

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum TFRecords use.
uint32_t crc32c(const void* data, size_t size);

// Seconds since the Unix epoch, with sub-second precision: an Event's wall_time.
double unix_seconds_now();

class TensorBoardWriter {
public:
    // Creates `dir` if needed and opens DIR/events.out.tfevents.<unix seconds>.<hostname>, the
    // name TensorFlow gives its event files, then writes the file_version Event.
    explicit TensorBoardWriter(const std::string& dir);

    // The same, writing to exactly `file` (appended to if it exists): for callers that choose
    // their own name, and for tests that point it at a device such as /dev/full.
    static TensorBoardWriter to_file(const std::string& file);

    TensorBoardWriter(TensorBoardWriter&& other) noexcept;
    TensorBoardWriter& operator=(TensorBoardWriter&&) = delete;
    TensorBoardWriter(const TensorBoardWriter&) = delete;
    TensorBoardWriter& operator=(const TensorBoardWriter&) = delete;

    // Writes what is still pending; a failure here is lost (destructors cannot throw), so call
    // flush() where a full disk must be noticed.
    ~TensorBoardWriter();

    // Queues one scalar. TensorBoard stores scalars as float32: values beyond its range become
    // +-inf rather than undefined behaviour.
    void add_scalar(const std::string& tag, double value, int64_t step, double wall_time = unix_seconds_now());

    // Appends every queued record to the file in one write. A failed write (a full disk, a file
    // size limit) throws sr::Error naming the file, after cutting the file back to where it ended
    // so that no torn record sits before later ones; the records stay queued for the next flush.
    void flush();

    const std::string& path() const { return path_; }

private:
    struct OpenFile {};
    TensorBoardWriter(OpenFile, const std::string& file);

    std::string path_;
    int fd_ = -1;
    std::string pending_;  // framed records not yet written
};

}  // namespace sr
