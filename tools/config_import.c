/* labctl-config-import (`labctl config import FILE`): the original Python
 * backend's config.yaml or the Go `srv` service's config, as labd.conf.
 * docs/migration.md has the key mapping; labctl(1) the options.
 *
 * Nothing is written unless the whole file was understood: an unreadable
 * or malformed file, an unknown key or a bad value is an error naming
 * FILE:LINE and the setting (exit 1).  Settings labd has no equivalent of
 * are listed on stderr with their line and make the exit status 3; secrets
 * become ${ENV} references. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "import.h"

#define FILE_MAX (4u << 20)
#define EXIT_DROPPED 3

static void usage(FILE *f)
{
	fputs("usage: labctl config import [--format python|go] [-o OUT [--force]] FILE\n"
	      "Writes the labd.conf equivalent of FILE, the Python backend's config.yaml or\n"
	      "the Go srv service's config (detected, or named by --format), to OUT or stdout.\n"
	      "Secrets become ${ENV} references; settings labd has no equivalent of are\n"
	      "listed on stderr with their line.\n"
	      "  -f, --format F  python or go (default: detected from the keys)\n"
	      "  -o, --output F  write F (atomically; refuses an existing F without --force)\n"
	      "      --force     replace an existing OUT\n"
	      "Exit status: 0 everything imported, 3 written but settings were dropped,\n"
	      "1 error (nothing written), 2 usage.\n",
	      f);
}

static int read_all(const char *path, char **out, size_t *len)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *b;
	ssize_t n;
	size_t got = 0;

	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "labctl config import: error: %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size > FILE_MAX) {
		fprintf(stderr, "labctl config import: error: %s: %s\n", path,
			S_ISREG(st.st_mode) ? "larger than 4 MiB" : "not a regular file");
		close(fd);
		return -1;
	}
	if (!(b = malloc((size_t)st.st_size + 1))) {
		close(fd);
		return -1;
	}
	while ((n = read(fd, b + got, (size_t)st.st_size - got)) > 0)
		got += (size_t)n;
	close(fd);
	if (n < 0) {
		fprintf(stderr, "labctl config import: error: %s: %s\n", path, strerror(errno));
		free(b);
		return -1;
	}
	b[got] = '\0';
	*out = b;
	*len = got;
	return 0;
}

static int parse(struct imp *im, const char *text, size_t len)
{
	yaml_parser_t p;
	int ok;

	if (!yaml_parser_initialize(&p))
		return -1;
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	ok = yaml_parser_load(&p, &im->doc);
	if (!ok) {
		fprintf(stderr, "labctl config import: error: %s:%zu:%zu: YAML: %s%s%s\n", im->file,
			p.problem_mark.line + 1, p.problem_mark.column + 1,
			p.problem ? p.problem : "malformed", p.context ? " " : "",
			p.context ? p.context : "");
		yaml_parser_delete(&p);
		return -1;
	}
	yaml_parser_delete(&p);
	if (!y_root(im) || !y_is_map(y_root(im))) {
		fprintf(stderr, "labctl config import: error: %s: expected a mapping of settings "
				"at the top\n",
			im->file);
		yaml_document_delete(&im->doc);
		return -1;
	}
	return 0;
}

/* Keys only the Go service's config has at the top, or its flat storage. */
static int looks_go(struct imp *im, yaml_node_t *root)
{
	static const char *const go_only[] = { "logLevel", "grpc", "cache", "geolocation", NULL };
	for (size_t i = 0; go_only[i]; i++)
		if (y_get(im, root, go_only[i]))
			return 1;
	yaml_node_t *st = y_get(im, root, "storage");
	return st && !y_get(im, st, "s3") && (y_get(im, st, "accessKey") || y_get(im, st, "endpoint"));
}

static void comment_name(struct buf *b, const char *s)
{
	for (; *s; s++)
		buf_putc(b, (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
}

static void assemble(struct imp *im, struct buf *o, const char *format)
{
	buf_puts(o, "# labd.conf imported by `labctl config import` from ");
	comment_name(o, im->file);
	buf_printf(o, "\n# (%s).  Check it with `labd -t -c FILE`; docs/migration.md explains\n"
		      "# the mapping.  Settings without a labd equivalent were listed by the\n"
		      "# importer and are not written here.\n",
		   format);
	if (im->log.len)
		buf_printf(o, "log = {\n%s};\n", im->log.data);
	if (im->storage.len)
		buf_printf(o, "storage = {\n%s};\n", im->storage.data);
	if (im->clickhouse.len)
		buf_printf(o, "clickhouse = {\n%s};\n", im->clickhouse.data);
	buf_printf(o, "ethereum = {\n\tnetworks = (\n%s\n\t);\n};\n",
		   im->networks.len ? im->networks.data : "");
	buf_printf(o, "plugins = {\n%s};\n", im->plugins.len ? im->plugins.data : "");
}

static int write_out(const char *path, const struct buf *o, int force)
{
	struct buf tmp = BUF_INIT;
	int fd, rc = -1;

	if (!force && access(path, F_OK) == 0) {
		fprintf(stderr, "labctl config import: error: %s exists (use --force to replace it)\n",
			path);
		return -1;
	}
	buf_printf(&tmp, "%s.tmp.%ld", path, (long)getpid());
	if (tmp.oom)
		return -1;
	fd = open(tmp.data, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "labctl config import: error: %s: %s\n", tmp.data, strerror(errno));
		buf_free(&tmp);
		return -1;
	}
	if (write(fd, o->data, o->len) == (ssize_t)o->len && fsync(fd) == 0 && close(fd) == 0) {
		fd = -1;
		if (rename(tmp.data, path) == 0)
			rc = 0;
	}
	if (rc < 0) {
		fprintf(stderr, "labctl config import: error: %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		unlink(tmp.data);
	}
	buf_free(&tmp);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "format", required_argument, NULL, 'f' },
					      { "output", required_argument, NULL, 'o' },
					      { "force", no_argument, NULL, 'F' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	const char *format = NULL, *out = NULL;
	struct imp im = { 0 };
	struct buf o = BUF_INIT;
	char *text = NULL;
	size_t len;
	int c, force = 0, rc;

	while ((c = getopt_long(argc, argv, "f:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			format = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'F':
			force = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind + 1 != argc ||
	    (format && strcmp(format, "python") != 0 && strcmp(format, "go") != 0)) {
		usage(stderr);
		return 2;
	}
	im.file = argv[optind];
	if (read_all(im.file, &text, &len) < 0 || parse(&im, text, len) < 0) {
		free(text);
		return 1;
	}
	free(text);
	yaml_node_t *root = y_root(&im);
	if (!format)
		format = looks_go(&im, root) ? "go" : "python";
	rc = strcmp(format, "go") == 0 ? import_go(&im, root) : import_python(&im, root);
	if (rc == 0 && !im.error) {
		assemble(&im, &o, strcmp(format, "go") == 0 ? "the Go srv service's config" :
							   "the Python backend's config.yaml");
		if (o.oom)
			rc = -1;
		else if (out)
			rc = write_out(out, &o, force);
		else if (fwrite(o.data, 1, o.len, stdout) != o.len || fflush(stdout) != 0)
			rc = -1;
	}
	if (rc == 0 && !im.error) {
		if (im.notes.len)
			fprintf(stderr, "%s", im.notes.data);
		if (im.warnings.len)
			fprintf(stderr, "%s", im.warnings.data);
		fprintf(stderr, "labctl config import: %s format; %zu setting%s not imported\n",
			format, im.n_dropped, im.n_dropped == 1 ? "" : "s");
	} else if (!im.error) {
		fprintf(stderr, "labctl config import: error: cannot write the result\n");
	}
	yaml_document_delete(&im.doc);
	struct buf *bufs[] = { &im.warnings, &im.notes, &im.log, &im.storage, &im.clickhouse,
			       &im.networks, &im.plugins, &o };
	for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
		buf_free(bufs[i]);
	free(im.ch_first_dsn);
	if (rc < 0 || im.error)
		return 1;
	return im.n_dropped ? EXIT_DROPPED : 0;
}
