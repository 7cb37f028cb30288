/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The PROXY protocol parser (src/gios-proxy-header.c) over byte arrays:
 * every version, command and family, TLVs, every truncation, and the ways a
 * header is bad.
 */
#include "gios-proxy-header.h"
#include "gios-test-utils.h"

#include <string.h>

static const guint8 v2_sig[12] = {
  0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A
};

/* A version 2 header: signature, @ver_cmd, @fam, then @body (its length
 * written in the header). */
static GByteArray *
v2_header (guint8        ver_cmd,
           guint8        fam,
           const guint8 *body,
           gsize         body_len)
{
  GByteArray *h = g_byte_array_new ();
  guint8 fixed[4] = { ver_cmd, fam, body_len >> 8, body_len & 0xFF };

  g_byte_array_append (h, v2_sig, sizeof v2_sig);
  g_byte_array_append (h, fixed, sizeof fixed);
  if (body_len > 0)
    g_byte_array_append (h, body, body_len);
  return h;
}

/* Appends a TLV to @body. */
static void
add_tlv (GByteArray *body,
         guint8      type,
         const void *value,
         gsize       len)
{
  guint8 head[3] = { type, len >> 8, len & 0xFF };

  g_byte_array_append (body, head, 3);
  g_byte_array_append (body, value, len);
}

/* Parses @data whole and asserts it is a header of @size bytes. */
static void
parse_done (const guint8      *data,
            gsize              size,
            GiosProxyProtocol  accepted,
            GiosProxyHeader   *header)
{
  g_autoptr(GError) error = NULL;
  gsize need = 0;

  g_assert_cmpint (gios_proxy_header_parse (data, size, accepted, &need, header, &error), ==,
                   GIOS_PROXY_PARSE_DONE);
  g_assert_no_error (error);
  g_assert_cmpuint (header->length, ==, size);
}

/* Asserts that @data is bad with @code. */
static void
parse_bad (const void        *data,
           gsize              size,
           GiosProxyProtocol  accepted,
           gint               code)
{
  g_autoptr(GError) error = NULL;
  GiosProxyHeader header;
  gsize need = 0;

  g_assert_cmpint (gios_proxy_header_parse (data, size, accepted, &need, &header, &error), ==,
                   GIOS_PROXY_PARSE_BAD);
  g_assert_error (error, GIOS_ERROR, code);
  g_assert_null (header.source);
  g_assert_null (header.tlvs);
}

/* Every proper prefix of @data asks for more, and for no more than the
 * whole header; every byte it was given is part of the header. */
static void
assert_truncations (const guint8      *data,
                    gsize              size,
                    GiosProxyProtocol  accepted)
{
  for (gsize cut = 0; cut < size; cut++)
    {
      g_autoptr(GError) error = NULL;
      GiosProxyHeader header;
      gsize need = 0;

      g_assert_cmpint (gios_proxy_header_parse (data, cut, accepted, &need, &header, &error), ==,
                       GIOS_PROXY_PARSE_MORE);
      g_assert_no_error (error);
      g_assert_cmpuint (need, >, cut);
      g_assert_cmpuint (need, <=, size);
    }
}

/* @data is a header of @version from 192.0.2.1 port @source_port to
 * 198.51.100.7 port 443, without TLVs: it parses whole as @accepted, and
 * every prefix asks for more, as @accepted and as any version. */
static void
assert_tcp4_header (const guint8      *data,
                    gsize              size,
                    GiosProxyProtocol  accepted,
                    guint              version,
                    guint              source_port)
{
  GiosProxyHeader header;

  parse_done (data, size, accepted, &header);
  g_assert_cmpuint (header.version, ==, version);
  g_assert_false (header.local);
  gios_test_assert_inet (header.source, "192.0.2.1", source_port);
  gios_test_assert_inet (header.destination, "198.51.100.7", 443);
  g_assert_null (header.tlvs);
  gios_proxy_header_clear (&header);
  assert_truncations (data, size, accepted);
  assert_truncations (data, size, GIOS_PROXY_PROTOCOL_ANY);
}

static void
test_v1_tcp4 (void)
{
  const char *line = "PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n";

  assert_tcp4_header ((const guint8 *) line, strlen (line), GIOS_PROXY_PROTOCOL_V1, 1, 56324);
}

static void
test_v1_tcp6 (void)
{
  const char *line = "PROXY TCP6 2001:db8::1 ::1 65535 0\r\n";
  g_autofree char *longest = NULL;
  GiosProxyHeader header;

  parse_done ((const guint8 *) line, strlen (line), GIOS_PROXY_PROTOCOL_ANY, &header);
  gios_test_assert_inet (header.source, "2001:db8::1", 65535);
  gios_test_assert_inet (header.destination, "::1", 0);
  gios_proxy_header_clear (&header);
  assert_truncations ((const guint8 *) line, strlen (line), GIOS_PROXY_PROTOCOL_V1);

  /* The longest line of the spec, 107 bytes, is accepted. */
  longest = g_strdup ("PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                      "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n");
  g_assert_cmpuint (strlen (longest), ==, GIOS_PROXY_V1_MAX);
  parse_done ((const guint8 *) longest, strlen (longest), GIOS_PROXY_PROTOCOL_V1, &header);
  gios_proxy_header_clear (&header);
}

static void
test_v1_unknown (void)
{
  const char *lines[] = { "PROXY UNKNOWN\r\n", "PROXY UNKNOWN anything at all\r\n" };

  for (gsize i = 0; i < G_N_ELEMENTS (lines); i++)
    {
      GiosProxyHeader header;

      parse_done ((const guint8 *) lines[i], strlen (lines[i]), GIOS_PROXY_PROTOCOL_V1, &header);
      g_assert_null (header.source);
      g_assert_null (header.destination);
      gios_proxy_header_clear (&header);
      assert_truncations ((const guint8 *) lines[i], strlen (lines[i]), GIOS_PROXY_PROTOCOL_V1);
    }
}

/* The header is found at the start of what arrived; what follows is not
 * part of it. */
static void
test_v1_followed_by_data (void)
{
  const char *data = "PROXY TCP4 10.0.0.1 10.0.0.2 1 2\r\nGET / HTTP/1.0\r\n\r\n";
  GiosProxyHeader header;
  g_autoptr(GError) error = NULL;
  gsize need = 0;

  g_assert_cmpint (gios_proxy_header_parse ((const guint8 *) data, strlen (data), GIOS_PROXY_PROTOCOL_V1,
                                            &need, &header, &error), ==, GIOS_PROXY_PARSE_DONE);
  g_assert_cmpuint (header.length, ==, strlen ("PROXY TCP4 10.0.0.1 10.0.0.2 1 2\r\n"));
  gios_proxy_header_clear (&header);
}

static void
test_v1_bad (void)
{
  const struct {
    const char *line;
    gint code;
  } cases[] = {
    { "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", GIOS_ERROR_MALFORMED },          /* LF alone */
    { "PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", GIOS_ERROR_MALFORMED },        /* protocol */
    { "PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n", GIOS_ERROR_MALFORMED },
    { "PROXY UNKNOWNX\r\n", GIOS_ERROR_MALFORMED },
    { "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", GIOS_ERROR_MALFORMED },          /* fields */
    { "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", GIOS_ERROR_MALFORMED },
    { "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", GIOS_ERROR_MALFORMED },
    { "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", GIOS_ERROR_MALFORMED },
    { "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", GIOS_ERROR_MALFORMED },    /* ports */
    { "PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", GIOS_ERROR_MALFORMED },
    { "PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n", GIOS_ERROR_MALFORMED },
    { "PROXY TCP4 1.2.3.4 5.6.7.8 1 99999999999\r\n", GIOS_ERROR_MALFORMED },
    { "PROXY TCP4 1.2.3.4 5.6.7.8 1 0x2\r\n", GIOS_ERROR_MALFORMED },
    { "PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n", GIOS_ERROR_MALFORMED },          /* addresses */
    { "PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n", GIOS_ERROR_MALFORMED },
    { "PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n", GIOS_ERROR_MALFORMED },
    { "PROXY TCP4 ::1 5.6.7.8 1 2\r\n", GIOS_ERROR_MALFORMED },
    { "PROXY TCP6 1.2.3.4 ::1 1 2\r\n", GIOS_ERROR_MALFORMED },
    { "PROXY TCP6 ::1 ::g 1 2\r\n", GIOS_ERROR_MALFORMED },
    { "PROXY TCP4 host.example 5.6.7.8 1 2\r\n", GIOS_ERROR_MALFORMED },
    { "PROXX TCP4 1.2.3.4 5.6.7.8 1 2\r\n", GIOS_ERROR_MALFORMED },        /* signature */
    { "GET / HTTP/1.1\r\n", GIOS_ERROR_MALFORMED },
    { "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", GIOS_ERROR_MALFORMED },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_test_message ("%s", cases[i].line);
      parse_bad (cases[i].line, strlen (cases[i].line), GIOS_PROXY_PROTOCOL_V1, cases[i].code);
      parse_bad (cases[i].line, strlen (cases[i].line), GIOS_PROXY_PROTOCOL_ANY, cases[i].code);
    }
  /* A NUL byte inside the line. */
  parse_bad ("PROXY TCP4 1.2.3.4\0 5.6.7.8 1 2\r\n", 34, GIOS_PROXY_PROTOCOL_V1, GIOS_ERROR_MALFORMED);
}

/* A line without its end: more is asked for up to 107 bytes, then never. */
static void
test_v1_too_long (void)
{
  g_autofree char *line = g_strnfill (200, 'x');
  g_autofree char *crlf_late = NULL;

  memcpy (line, "PROXY UNKNOWN ", 14);
  parse_bad (line, GIOS_PROXY_V1_MAX, GIOS_PROXY_PROTOCOL_V1, GIOS_ERROR_TOO_LARGE);
  parse_bad (line, 200, GIOS_PROXY_PROTOCOL_V1, GIOS_ERROR_TOO_LARGE);
  assert_truncations ((const guint8 *) line, GIOS_PROXY_V1_MAX, GIOS_PROXY_PROTOCOL_V1);
  /* 108 bytes with CRLF is one too many. */
  line[106] = '\r';
  line[107] = '\n';
  parse_bad (line, 108, GIOS_PROXY_PROTOCOL_V1, GIOS_ERROR_TOO_LARGE);
}

static void
test_v2_tcp4 (void)
{
  const guint8 addresses[12] = { 192, 0, 2, 1, 198, 51, 100, 7, 0xDC, 0x04, 0x01, 0xBB };
  g_autoptr(GByteArray) h = v2_header (0x21, 0x11, addresses, sizeof addresses);

  assert_tcp4_header (h->data, h->len, GIOS_PROXY_PROTOCOL_V2, 2, 0xDC04);
}

static void
test_v2_tcp6 (void)
{
  guint8 addresses[36] = { 0x20, 0x01, 0x0d, 0xb8 };
  g_autoptr(GByteArray) h = NULL;
  GiosProxyHeader header;

  addresses[15] = 1;
  addresses[31] = 1;                          /* ::1 */
  addresses[32] = 0x12;
  addresses[33] = 0x34;
  addresses[35] = 80;
  h = v2_header (0x21, 0x21, addresses, sizeof addresses);
  parse_done (h->data, h->len, GIOS_PROXY_PROTOCOL_ANY, &header);
  gios_test_assert_inet (header.source, "2001:db8::1", 0x1234);
  gios_test_assert_inet (header.destination, "::1", 80);
  gios_proxy_header_clear (&header);
  assert_truncations (h->data, h->len, GIOS_PROXY_PROTOCOL_V2);
}

static void
test_v2_unix (void)
{
  guint8 addresses[216] = { 0 };
  g_autoptr(GByteArray) h = NULL;
  GiosProxyHeader header;

  memcpy (addresses, "/run/client.sock", 16);
  memset (addresses + 108, 'a', 107);         /* the longest path, NUL-ended */
  h = v2_header (0x21, 0x31, addresses, sizeof addresses);
  parse_done (h->data, h->len, GIOS_PROXY_PROTOCOL_V2, &header);
  g_assert_true (G_IS_UNIX_SOCKET_ADDRESS (header.source));
  g_assert_cmpstr (g_unix_socket_address_get_path (G_UNIX_SOCKET_ADDRESS (header.source)), ==,
                   "/run/client.sock");
  g_assert_cmpuint (g_unix_socket_address_get_path_len (G_UNIX_SOCKET_ADDRESS (header.destination)), ==, 107);
  gios_proxy_header_clear (&header);
  assert_truncations (h->data, h->len, GIOS_PROXY_PROTOCOL_V2);
}

/* UNSPEC family or transport, and LOCAL: no addresses, the real peer stays;
 * the address block is skipped by its length. */
static void
test_v2_unspec_and_local (void)
{
  const guint8 addresses[12] = { 10, 0, 0, 1, 10, 0, 0, 2, 0, 1, 0, 2 };
  const struct {
    guint8 ver_cmd, fam;
    gsize body_len;
    gboolean local;
  } cases[] = {
    { 0x21, 0x00, 0, FALSE },                   /* PROXY UNSPEC */
    { 0x21, 0x00, 12, FALSE },                  /* ... with bytes to skip */
    { 0x21, 0x10, 12, FALSE },                  /* INET, UNSPEC transport */
    { 0x21, 0x12, 12, FALSE },                  /* INET over UDP: unspec */
    { 0x20, 0x11, 0, TRUE },                    /* LOCAL, family, no block */
    { 0x20, 0x00, 0, TRUE },                    /* LOCAL, as health checks */
    { 0x20, 0x11, 12, TRUE },                   /* LOCAL with addresses */
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GByteArray) h = v2_header (cases[i].ver_cmd, cases[i].fam, addresses, cases[i].body_len);
      GiosProxyHeader header;

      parse_done (h->data, h->len, GIOS_PROXY_PROTOCOL_V2, &header);
      g_assert_cmpint (header.local, ==, cases[i].local);
      g_assert_null (header.source);
      g_assert_null (header.destination);
      gios_proxy_header_clear (&header);
      assert_truncations (h->data, h->len, GIOS_PROXY_PROTOCOL_ANY);
    }
}

static void
test_v2_tlvs (void)
{
  const guint8 addresses[12] = { 127, 0, 0, 9, 127, 0, 0, 1, 0x30, 0x39, 0x1F, 0x90 };
  const guint8 ssl[] = { GIOS_PROXY_SSL_CLIENT_SSL, 0, 0, 0, 0 };
  g_autoptr(GByteArray) body = g_byte_array_new ();
  g_autoptr(GByteArray) h = NULL;
  g_autoptr(GBytes) authority = NULL;
  g_autoptr(GBytes) ssl_value = NULL;
  g_autoptr(GBytes) missing = NULL;
  GiosProxyHeader header;

  g_byte_array_append (body, addresses, sizeof addresses);
  add_tlv (body, 0x04, "", 0);                /* NOOP, empty */
  add_tlv (body, GIOS_PROXY_TLV_AUTHORITY, "example.org", 11);
  add_tlv (body, GIOS_PROXY_TLV_SSL, ssl, sizeof ssl);
  h = v2_header (0x21, 0x11, body->data, body->len);
  parse_done (h->data, h->len, GIOS_PROXY_PROTOCOL_V2, &header);
  gios_test_assert_inet (header.source, "127.0.0.9", 12345);
  g_assert_nonnull (header.tlvs);
  authority = gios_proxy_tlvs_lookup (header.tlvs, GIOS_PROXY_TLV_AUTHORITY);
  g_assert_nonnull (authority);
  g_assert_cmpmem (g_bytes_get_data (authority, NULL), g_bytes_get_size (authority), "example.org", 11);
  ssl_value = gios_proxy_tlvs_lookup (header.tlvs, GIOS_PROXY_TLV_SSL);
  g_assert_cmpmem (g_bytes_get_data (ssl_value, NULL), g_bytes_get_size (ssl_value), ssl, sizeof ssl);
  missing = gios_proxy_tlvs_lookup (header.tlvs, 0x05);
  g_assert_null (missing);
  gios_proxy_header_clear (&header);
  assert_truncations (h->data, h->len, GIOS_PROXY_PROTOCOL_V2);

  /* TLVs after an UNSPEC LOCAL header too. */
  g_clear_pointer (&h, g_byte_array_unref);
  h = v2_header (0x20, 0x00, body->data + 12, body->len - 12);
  parse_done (h->data, h->len, GIOS_PROXY_PROTOCOL_V2, &header);
  g_clear_pointer (&authority, g_bytes_unref);
  authority = gios_proxy_tlvs_lookup (header.tlvs, GIOS_PROXY_TLV_AUTHORITY);
  g_assert_nonnull (authority);
  gios_proxy_header_clear (&header);
}

static void
test_v2_bad (void)
{
  const guint8 addresses[12] = { 10, 0, 0, 1, 10, 0, 0, 2, 0, 1, 0, 2 };
  const guint8 tlv_overrun[15] = { 10, 0, 0, 1, 10, 0, 0, 2, 0, 1, 0, 2, 0x02, 0x00, 0x05 };
  const guint8 tlv_short[14] = { 10, 0, 0, 1, 10, 0, 0, 2, 0, 1, 0, 2, 0x02, 0x00 };
  const struct {
    guint8 ver_cmd, fam;
    const guint8 *body;
    gsize body_len;
  } cases[] = {
    { 0x11, 0x11, addresses, 12 },              /* version 1 in a v2 header */
    { 0x31, 0x11, addresses, 12 },              /* version 3 */
    { 0x22, 0x11, addresses, 12 },              /* command 2 */
    { 0x2F, 0x11, addresses, 12 },
    { 0x21, 0x41, addresses, 12 },              /* family 4 */
    { 0x21, 0x13, addresses, 12 },              /* transport 3 */
    { 0x21, 0x11, addresses, 11 },              /* short for its addresses */
    { 0x21, 0x21, addresses, 12 },              /* IPv6 in 12 bytes */
    { 0x21, 0x11, tlv_overrun, 15 },            /* a TLV past the end */
    { 0x21, 0x11, tlv_short, 14 },              /* a TLV cut in its head */
  };
  guint8 wrong_sig[28];
  g_autoptr(GByteArray) local = v2_header (0x20, 0x00, tlv_short + 12, 2);
  GiosProxyHeader header;

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GByteArray) h = v2_header (cases[i].ver_cmd, cases[i].fam, cases[i].body, cases[i].body_len);

      g_test_message ("case %" G_GSIZE_FORMAT, i);
      parse_bad (h->data, h->len, GIOS_PROXY_PROTOCOL_V2, GIOS_ERROR_MALFORMED);
      parse_bad (h->data, h->len, GIOS_PROXY_PROTOCOL_ANY, GIOS_ERROR_MALFORMED);
    }

  /* The bytes of a header that keeps the real peer are skipped, TLVs or
   * not. */
  parse_done (local->data, local->len, GIOS_PROXY_PROTOCOL_V2, &header);
  g_assert_null (header.tlvs);
  gios_proxy_header_clear (&header);

  /* A wrong signature, in each of its bytes: bad at once, as soon as that
   * byte is there. */
  for (gsize i = 0; i < sizeof v2_sig; i++)
    {
      g_autoptr(GByteArray) h = v2_header (0x21, 0x11, addresses, 12);

      memcpy (wrong_sig, h->data, h->len);
      wrong_sig[i] ^= 0x40;
      parse_bad (wrong_sig, i + 1, GIOS_PROXY_PROTOCOL_V2, GIOS_ERROR_MALFORMED);
      parse_bad (wrong_sig, sizeof wrong_sig, GIOS_PROXY_PROTOCOL_V2, GIOS_ERROR_MALFORMED);
    }
}

/* A length over the cap is refused from the 16 fixed bytes alone, before
 * anything is read or allocated for it; the cap itself is accepted. */
static void
test_v2_too_long (void)
{
  g_autofree guint8 *body = g_malloc0 (GIOS_PROXY_V2_MAX);
  g_autoptr(GByteArray) at_cap = NULL;
  g_autoptr(GByteArray) over = NULL;
  GiosProxyHeader header;

  at_cap = v2_header (0x20, 0x00, body, GIOS_PROXY_V2_MAX - GIOS_PROXY_V2_FIXED);
  /* One NOOP TLV filling the area. */
  at_cap->data[16] = 0x04;
  at_cap->data[17] = (4096 - 3) >> 8;
  at_cap->data[18] = (4096 - 3) & 0xFF;
  parse_done (at_cap->data, at_cap->len, GIOS_PROXY_PROTOCOL_V2, &header);
  gios_proxy_header_clear (&header);

  over = v2_header (0x20, 0x00, body, GIOS_PROXY_V2_MAX - GIOS_PROXY_V2_FIXED + 1);
  parse_bad (over->data, GIOS_PROXY_V2_FIXED, GIOS_PROXY_PROTOCOL_V2, GIOS_ERROR_TOO_LARGE);
  over->data[14] = 0xFF;
  over->data[15] = 0xFF;
  parse_bad (over->data, GIOS_PROXY_V2_FIXED, GIOS_PROXY_PROTOCOL_ANY, GIOS_ERROR_TOO_LARGE);
}

/* A port configured for one version refuses the other: nothing is
 * auto-detected beyond what the server was told to accept. */
static void
test_version_not_configured (void)
{
  const char *line = "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n";
  g_autoptr(GByteArray) h = v2_header (0x21, 0x00, NULL, 0);

  parse_bad (line, strlen (line), GIOS_PROXY_PROTOCOL_V2, GIOS_ERROR_MALFORMED);
  parse_bad (h->data, h->len, GIOS_PROXY_PROTOCOL_V1, GIOS_ERROR_MALFORMED);
  /* Bad from the first byte. */
  parse_bad ("G", 1, GIOS_PROXY_PROTOCOL_ANY, GIOS_ERROR_MALFORMED);
  parse_bad ("\r", 1, GIOS_PROXY_PROTOCOL_V1, GIOS_ERROR_MALFORMED);
  parse_bad ("P", 1, GIOS_PROXY_PROTOCOL_V2, GIOS_ERROR_MALFORMED);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/proxy-header/v1/tcp4", test_v1_tcp4);
  g_test_add_func ("/proxy-header/v1/tcp6", test_v1_tcp6);
  g_test_add_func ("/proxy-header/v1/unknown", test_v1_unknown);
  g_test_add_func ("/proxy-header/v1/followed-by-data", test_v1_followed_by_data);
  g_test_add_func ("/proxy-header/v1/bad", test_v1_bad);
  g_test_add_func ("/proxy-header/v1/too-long", test_v1_too_long);
  g_test_add_func ("/proxy-header/v2/tcp4", test_v2_tcp4);
  g_test_add_func ("/proxy-header/v2/tcp6", test_v2_tcp6);
  g_test_add_func ("/proxy-header/v2/unix", test_v2_unix);
  g_test_add_func ("/proxy-header/v2/unspec-and-local", test_v2_unspec_and_local);
  g_test_add_func ("/proxy-header/v2/tlvs", test_v2_tlvs);
  g_test_add_func ("/proxy-header/v2/bad", test_v2_bad);
  g_test_add_func ("/proxy-header/v2/too-long", test_v2_too_long);
  g_test_add_func ("/proxy-header/version-not-configured", test_version_not_configured);

  return g_test_run ();
}
