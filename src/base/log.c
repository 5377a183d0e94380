/*
 * log: see log.h. One module-level state struct (documented exception to
 * "no globals"); formatting into a stack buffer, one write(2) per record.
 */
#include "base/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static uint64_t default_now_ms(void);

static struct {
	enum log_level min_level;
	log_sink_fn sink; /* NULL: stderr */
	void *sink_udata;
	uint64_t (*now_ms)(void);
} log_state = { LOG_LEVEL_INFO, NULL, NULL, default_now_ms };

/* "2024-05-01T12:34:56.789Z " + "LEVEL " */
#define LOG_TS_LEN 25
#define LOG_PREFIX_LEN (LOG_TS_LEN + 6)

static const char *const level_tags[] = { "DEBUG", "INFO ", "WARN ", "ERROR" };
static const char *const level_names[] = { "debug", "info", "warn", "error" };

void log_set_level(enum log_level level)
{
	if ((unsigned)level > LOG_LEVEL_ERROR)
		level = LOG_LEVEL_ERROR;
	log_state.min_level = level;
}

enum log_level log_get_level(void)
{
	return log_state.min_level;
}

bool log_enabled(enum log_level level)
{
	return level >= log_state.min_level;
}

int log_level_parse(const char *s, enum log_level *out)
{
	if (s == NULL)
		return -EINVAL;
	for (unsigned i = 0; i < 4; i++) {
		if (strcasecmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	if (strcasecmp(s, "warning") == 0) {
		*out = LOG_LEVEL_WARN;
		return 0;
	}
	return -EINVAL;
}

const char *log_level_name(enum log_level level)
{
	if ((unsigned)level > LOG_LEVEL_ERROR)
		return "?";
	return level_names[level];
}

void log_set_sink(log_sink_fn sink, void *udata)
{
	log_state.sink = sink;
	log_state.sink_udata = sink != NULL ? udata : NULL;
}

/* Writes the timestamp and level tag; exactly LOG_PREFIX_LEN characters. */
static void format_prefix(char *buf, enum log_level level)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	/* Years past 9999 would widen the field; clamp to keep it fixed. */
	int year = tm.tm_year + 1900;
	if (year > 9999)
		year = 9999;
	char tmp[64];
	snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s ",
		 year, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		 tm.tm_sec, (int)(ts.tv_nsec / 1000000), level_tags[level]);
	memcpy(buf, tmp, LOG_PREFIX_LEN);
}

static void write_stderr(const char *line, size_t len)
{
	size_t off = 0;
	while (off < len) {
		ssize_t n = write(STDERR_FILENO, line + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		off += (size_t)n;
	}
}

/* Adds what a printf into line + *len wrote (n) to *len, at most up to
 * cap; returns whether the text was cut. */
static bool advance(size_t *len, size_t cap, int n)
{
	if (n < 0)
		n = 0;
	if ((size_t)n > cap - *len) {
		*len = cap;
		return true;
	}
	*len += (size_t)n;
	return false;
}

void log_vmsg(enum log_level level, bool with_errno, const char *fmt,
	      va_list ap)
{
	int saved_errno = errno;
	/* Line, plus room for '\n' and NUL. */
	char line[LOG_LINE_MAX + 2];
	size_t cap = LOG_LINE_MAX; /* characters available for the line */
	size_t len;
	bool cut = false;

	if ((unsigned)level > LOG_LEVEL_ERROR)
		level = LOG_LEVEL_ERROR;
	if (level < log_state.min_level)
		return;

	format_prefix(line, level);
	len = LOG_PREFIX_LEN;

	cut = advance(&len, cap, vsnprintf(line + len, cap - len + 1, fmt, ap));
	if (with_errno && !cut) {
		char ebuf[128];
		const char *es = strerror_r(saved_errno, ebuf, sizeof(ebuf));
		cut = advance(&len, cap, snprintf(line + len, cap - len + 1, ": %s", es));
	}
	if (cut)
		memcpy(line + cap - 3, "...", 3);
	line[len] = '\0';

	if (log_state.sink != NULL) {
		log_state.sink(log_state.sink_udata, level, line,
			       line + LOG_PREFIX_LEN);
	} else {
		line[len] = '\n';
		write_stderr(line, len + 1);
	}
	errno = saved_errno;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(level, false, fmt, ap);
	va_end(ap);
}

#define LOG_DEFINE(name, level, with_errno)           \
	void name(const char *fmt, ...)               \
	{                                             \
		va_list ap;                           \
		va_start(ap, fmt);                    \
		log_vmsg(level, with_errno, fmt, ap); \
		va_end(ap);                           \
	}

LOG_DEFINE(log_debug, LOG_LEVEL_DEBUG, false)
LOG_DEFINE(log_info, LOG_LEVEL_INFO, false)
LOG_DEFINE(log_warn, LOG_LEVEL_WARN, true)
LOG_DEFINE(log_warnx, LOG_LEVEL_WARN, false)
LOG_DEFINE(log_error, LOG_LEVEL_ERROR, true)
LOG_DEFINE(log_errorx, LOG_LEVEL_ERROR, false)

/* ---- rate limits ---- */

static uint64_t default_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void log_set_clock(uint64_t (*now_ms)(void))
{
	log_state.now_ms = now_ms ? now_ms : default_now_ms;
}

void log_limit_init(struct log_limit *lim, const char *kind, unsigned burst, uint32_t interval_ms)
{
	memset(lim, 0, sizeof(*lim));
	lim->kind = kind;
	lim->burst = burst;
	lim->interval_ms = interval_ms;
}

void log_limit_flush(struct log_limit *lim)
{
	if (lim->suppressed == 0)
		return;
	log_msg(lim->level, "%s: %llu similar lines suppressed", lim->kind ? lim->kind : "log",
		(unsigned long long)lim->suppressed);
	lim->suppressed = 0;
}

bool log_limited(struct log_limit *lim, enum log_level level, const char *fmt, ...)
{
	if (!log_enabled(level))
		return false;
	uint64_t now = log_state.now_ms();
	if (lim->in_window == 0 || now - lim->window_start_ms >= lim->interval_ms) {
		lim->window_start_ms = now;
		lim->in_window = 0;
	}
	if (lim->in_window >= lim->burst) {
		lim->suppressed++;
		lim->total_suppressed++;
		lim->level = level;
		return false;
	}
	lim->in_window++;
	int saved_errno = errno;
	log_limit_flush(lim);
	errno = saved_errno;
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(level, false, fmt, ap);
	va_end(ap);
	return true;
}

/* ---- escaping ---- */

/* The escaped form of one byte into tmp; returns its length (1, 2 or 4). */
static size_t escape_byte(unsigned char c, char tmp[4])
{
	static const char hex[] = "0123456789abcdef";
	if (c == '\\') {
		tmp[0] = tmp[1] = '\\';
		return 2;
	}
	if (c >= 0x20 && c < 0x7f) {
		tmp[0] = (char)c;
		return 1;
	}
	tmp[0] = '\\';
	tmp[1] = 'x';
	tmp[2] = hex[c >> 4];
	tmp[3] = hex[c & 15];
	return 4;
}

const char *log_escape(char *out, size_t cap, const void *p, size_t n)
{
	const unsigned char *s = p;
	char tmp[4];
	if (cap < 4) {
		if (cap)
			out[0] = '\0';
		return out;
	}
	size_t room = cap - 1, total = 0, o = 0;
	for (size_t i = 0; i < n && total <= room; i++)
		total += escape_byte(s[i], tmp);
	/* When it does not all fit, "..." takes the last three places. */
	size_t limit = total <= room ? room : room - 3;
	for (size_t i = 0; i < n; i++) {
		size_t k = escape_byte(s[i], tmp);
		if (o + k > limit)
			break;
		memcpy(out + o, tmp, k);
		o += k;
	}
	if (total > room) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

const char *log_escape_str(char *out, size_t cap, const char *s)
{
	if (s == NULL)
		s = "(null)";
	return log_escape(out, cap, s, strlen(s));
}
