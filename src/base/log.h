/*
 * log: the one logging module.
 *
 * Each record is one line
 *     2024-05-01T12:34:56.789Z INFO  message
 * (UTC ISO-8601 timestamp with milliseconds, level padded to 5 characters,
 * message), written with a single write(2) to stderr by default, or handed
 * to a sink set with log_set_sink() (tests capture records this way).
 *
 * State: the minimum level and the sink live in one module-level struct.
 * That struct is the single exception to "no mutable globals": logging is
 * process-wide by nature and every module must be able to log without being
 * handed a context. It is not thread-safe; threshold runs one thread.
 *
 * Hot path: formatting uses a fixed stack buffer (LOG_LINE_MAX); nothing is
 * allocated. Longer messages are truncated and end in "...". Every log
 * function preserves errno. Records below the minimum level cost one
 * comparison (the format arguments are still evaluated by the caller).
 */
#ifndef THRESHOLD_BASE_LOG_H
#define THRESHOLD_BASE_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Names avoid syslog.h's LOG_DEBUG/LOG_INFO macros. */
enum log_level {
	LOG_LEVEL_DEBUG = 0,
	LOG_LEVEL_INFO = 1,
	LOG_LEVEL_WARN = 2,
	LOG_LEVEL_ERROR = 3,
};

/* Longest line including the timestamp prefix; longer records are cut. */
#define LOG_LINE_MAX 2048

/*
 * A sink receives every record at or above the minimum level.
 *   line: the whole line ("TIMESTAMP LEVEL message"), NUL-terminated,
 *         without a trailing newline;
 *   msg:  points inside line at the message part.
 * Both are valid only during the call. A sink must not call the log module.
 */
typedef void (*log_sink_fn)(void *udata, enum log_level level,
			    const char *line, const char *msg);

/* Records below `level` are dropped. Default: LOG_LEVEL_INFO. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
bool log_enabled(enum log_level level);

/*
 * Parse "debug", "info", "warn"/"warning", "error" (case-insensitive).
 * Returns 0 and sets *out, or -EINVAL.
 */
int log_level_parse(const char *s, enum log_level *out);
/* "debug", "info", "warn", "error"; "?" for an out-of-range value. */
const char *log_level_name(enum log_level level);

/* Route records to `sink` (udata is passed back); NULL restores stderr. */
void log_set_sink(log_sink_fn sink, void *udata);

/*
 * Core entry point. With `with_errno`, ": <strerror(errno)>" is appended,
 * errno being read when the function is entered.
 */
void log_vmsg(enum log_level level, bool with_errno, const char *fmt,
	      va_list ap) __attribute__((format(printf, 3, 0)));
void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* log_warn / log_error append ": strerror(errno)"; the x variants do not. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_errorx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Rate limit for one kind of line, so that a peer cannot flood the log:
 * at most `burst` records of the kind per `interval_ms`; the others are
 * counted, not written. The first record of the kind that passes again
 * (or log_limit_flush, for a caller with a periodic timer) is preceded by
 *     "<kind>: N similar lines suppressed"
 * at the same level. Embed one struct per kind in its owner (no statics);
 * LOG_LIMIT_INIT gives the defaults (10 records per second). `suppressed`
 * is what has not been reported yet, `total_suppressed` counts for ever.
 */
struct log_limit {
	const char *kind;
	unsigned burst;
	uint32_t interval_ms;
	uint64_t window_start_ms; /* private */
	unsigned in_window;	  /* private */
	enum log_level level;	  /* private: of the suppressed records */
	uint64_t suppressed;
	uint64_t total_suppressed;
};
#define LOG_LIMIT_BURST 10
#define LOG_LIMIT_INTERVAL_MS 1000
#define LOG_LIMIT_INIT(kind_)                                                                   \
	{                                                                                       \
		.kind = (kind_), .burst = LOG_LIMIT_BURST, .interval_ms = LOG_LIMIT_INTERVAL_MS \
	}
void log_limit_init(struct log_limit *lim, const char *kind, unsigned burst, uint32_t interval_ms);

/* Logs like log_msg when `lim` lets the record through; returns whether it
 * did. A record below the minimum level is neither written nor counted. */
bool log_limited(struct log_limit *lim, enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Writes the pending "N similar lines suppressed" line, if any. */
void log_limit_flush(struct log_limit *lim);

/* The clock the limits use (CLOCK_MONOTONIC, ms); tests may replace it.
 * NULL restores the default. */
void log_set_clock(uint64_t (*now_ms)(void));

/*
 * Bytes from a peer made safe for a log line: printable ASCII (0x20-0x7e)
 * is copied, a backslash is doubled, every other byte (control characters,
 * DEL, bytes >= 0x80) becomes \xNN, so no peer can forge a line break or a
 * terminal escape. The result is NUL-terminated and, when it does not fit
 * `cap` (at least 4), cut and ended with "...". Returns `out`. Pure.
 */
const char *log_escape(char *out, size_t cap, const void *p, size_t n);
/* The same for a NUL-terminated string (NULL gives "(null)"). */
const char *log_escape_str(char *out, size_t cap, const char *s);

#endif
