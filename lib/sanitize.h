/* sanitize.h - remote text made safe for a terminal or a report, and URLs without their secrets. */
#ifndef DCV_SANITIZE_H
#define DCV_SANITIZE_H

/* A copy of `s` (NULL reads as "") that cannot drive a terminal or break a parser: bytes that are
 * not UTF-8 become U+FFFD, control characters other than \t \n \r are dropped (C1 too: 0x9b is a
 * CSI), and so are the bidirectional overrides that reorder what a reader sees. ESC goes, so an
 * escape sequence leaves only its printable tail. Caller frees. */
char *dcv_sanitize(const char *s);
/* The same, for a value that must stay on one line: \t \n \r become spaces. Caller frees. */
char *dcv_sanitize_line(const char *s);
/* `url` without its userinfo ("http://user:secret@proxy:3128" -> "http://proxy:3128"; the scheme
 * is optional, as curl's proxy option allows). Caller frees. */
char *dcv_url_redact(const char *url);

#endif
