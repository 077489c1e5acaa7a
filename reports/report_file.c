/*
 * reports/report_file.c - handing a file to people: written whole or not
 * at all. The bytes go to a new file next to the target, are flushed and
 * fsynced, and the file is renamed over the target (then the directory is
 * fsynced so the rename survives a crash). A reader sees the old file or
 * the new one, never half of either (Redis rdbSave, Postfix's queue).
 */
#include "reports/report.h"

#include "lib/error.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The directory part of path ("." when there is none). */
static void dir_of(const char *path, char *out, size_t cap)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		snprintf(out, cap, ".");
	else if (slash == path)
		snprintf(out, cap, "/");
	else
		snprintf(out, cap, "%.*s", (int)(slash - path), path);
}

int report_write_file(const char *path, const void *data, size_t len, unsigned char sha256[32])
{
	static unsigned counter;
	char tmp[4096], dir[4096];
	const char *p = data;
	size_t left = len;
	int fd = -1, dfd = -1, rc = 0, n;

	n = snprintf(tmp, sizeof(tmp), "%s.tmp-%ld-%u", path, (long)getpid(), counter++);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return ak_error_code(AK_EINVALID, "%s: path too long", path);
	dir_of(path, dir, sizeof(dir));
	/* 0666 less the umask, as any file the user makes */
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666)) < 0)
		return ak_error_set("%s: %s", tmp, strerror(errno));
	while (left > 0) {
		ssize_t w = write(fd, p, left);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			rc = ak_error_set("%s: %s", tmp, strerror(errno));
			goto fail;
		}
		p += w;
		left -= (size_t)w;
	}
	if (fsync(fd) != 0) {
		rc = ak_error_set("%s: fsync: %s", tmp, strerror(errno));
		goto fail;
	}
	if (close(fd) != 0) {
		fd = -1;
		rc = ak_error_set("%s: %s", tmp, strerror(errno));
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		rc = ak_error_set("%s: %s", path, strerror(errno));
		goto fail;
	}
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		if (fsync(dfd) != 0 && errno != EINVAL)
			rc = ak_error_set("%s: fsync: %s", dir, strerror(errno));
		close(dfd);
	}
	if (rc == 0 && sha256)
		SHA256(data, len, sha256);
	return rc;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return rc;
}
