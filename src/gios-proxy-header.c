/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The PROXY protocol header parser: see gios-proxy-header.h. */

#include "gios-private.h"
#include "gios-proxy-header.h"

#include <string.h>
#include <arpa/inet.h>
#include <sys/un.h>

static const guint8 v2_signature[12] = {
  0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A
};
static const char v1_signature[] = "PROXY ";
#define V1_SIGNATURE_LEN (sizeof v1_signature - 1)

/* The most bytes of a v1 address, and of a port, with one more for the
 * terminator. */
#define V1_ADDRESS_MAX (INET6_ADDRSTRLEN)
#define V1_PORT_MAX 6

#define V2_COMMAND_LOCAL 0x0
#define V2_COMMAND_PROXY 0x1
#define V2_FAMILY_UNSPEC 0x0
#define V2_FAMILY_INET   0x1
#define V2_FAMILY_INET6  0x2
#define V2_FAMILY_UNIX   0x3
#define V2_TRANSPORT_STREAM 0x1
#define V2_TRANSPORT_MAX 0x2
#define V2_UNIX_PATH     108

static GiosProxyParse
bad (GError     **error,
     gint         code,
     const char  *message)
{
  g_set_error_literal (error, GIOS_ERROR, code, message);
  return GIOS_PROXY_PARSE_BAD;
}

static GiosProxyParse
more (gsize *need,
      gsize  total)
{
  *need = total;
  return GIOS_PROXY_PARSE_MORE;
}

/* Whether @data (@size bytes, fewer than @prefix_len perhaps) could start
 * with @prefix. */
static gboolean
may_start_with (const guint8 *data,
                gsize         size,
                const void   *prefix,
                gsize         prefix_len)
{
  return memcmp (data, prefix, MIN (size, prefix_len)) == 0;
}

/* ------------------------------------------------------------------------ */
/* Version 1: "PROXY TCP4|TCP6 src dst sport dport\r\n" or "PROXY UNKNOWN…" */

/* Takes the next field of @line, up to a space (or the end with @last),
 * into @out (@out_size bytes with the terminator). */
static gboolean
v1_field (const char **line,
          const char  *end,
          gboolean     last,
          char        *out,
          gsize        out_size)
{
  const char *p = *line;
  const char *stop = last ? end : memchr (p, ' ', end - p);
  gsize len;

  if (stop == NULL)
    return FALSE;
  len = stop - p;
  if (len == 0 || len >= out_size)
    return FALSE;
  memcpy (out, p, len);
  out[len] = '\0';
  *line = last ? end : stop + 1;
  return TRUE;
}

/* A port in decimal, 0 to 65535, without leading zeros. */
static gboolean
v1_port (const char *text,
         guint16    *port)
{
  guint value = 0;

  if (text[0] == '0' && text[1] != '\0')
    return FALSE;
  for (const char *p = text; *p != '\0'; p++)
    {
      if (!g_ascii_isdigit (*p))
        return FALSE;
      value = value * 10 + (*p - '0');
      if (value > G_MAXUINT16)
        return FALSE;
    }
  *port = value;
  return TRUE;
}

/* An address of @family in its canonical text form (inet_pton() refuses
 * leading zeros in IPv4 and anything of the other family). */
static GSocketAddress *
v1_address (int         family,
            const char *text,
            guint16     port)
{
  guint8 bytes[16];
  g_autoptr(GInetAddress) address = NULL;

  if (inet_pton (family, text, bytes) != 1)
    return NULL;
  address = g_inet_address_new_from_bytes (bytes, family == AF_INET ? G_SOCKET_FAMILY_IPV4
                                                                    : G_SOCKET_FAMILY_IPV6);
  return g_inet_socket_address_new (address, port);
}

static GiosProxyParse
parse_v1 (const guint8     *data,
          gsize             size,
          gsize            *need,
          GiosProxyHeader  *header,
          GError          **error)
{
  const guint8 *lf = memchr (data, '\n', MIN (size, GIOS_PROXY_V1_MAX));
  const char *line = (const char *) data + V1_SIGNATURE_LEN;
  const char *end;
  char protocol[8], source[V1_ADDRESS_MAX], destination[V1_ADDRESS_MAX];
  char source_port[V1_PORT_MAX], destination_port[V1_PORT_MAX];
  guint16 sport, dport;
  int family;

  if (lf == NULL)
    {
      if (size >= GIOS_PROXY_V1_MAX)
        return bad (error, GIOS_ERROR_TOO_LARGE,
                    _("The PROXY header (version 1) does not end within 107 bytes"));
      return more (need, size + 1);
    }
  if (lf == data || lf[-1] != '\r')
    return bad (error, GIOS_ERROR_MALFORMED,
                _("The PROXY header (version 1) does not end with CRLF"));
  if (memchr (data, '\0', lf - data) != NULL)
    return bad (error, GIOS_ERROR_MALFORMED,
                _("The PROXY header (version 1) holds a NUL byte"));
  end = (const char *) lf - 1;
  header->version = 1;
  header->length = (lf - data) + 1;

  if (end - line >= 7 && memcmp (line, "UNKNOWN", 7) == 0 &&
      (end - line == 7 || line[7] == ' '))
    /* What follows UNKNOWN is to be ignored: the real peer stays. */
    return GIOS_PROXY_PARSE_DONE;

  if (!v1_field (&line, end, FALSE, protocol, sizeof protocol) ||
      (strcmp (protocol, "TCP4") != 0 && strcmp (protocol, "TCP6") != 0))
    return bad (error, GIOS_ERROR_MALFORMED,
                _("The PROXY header (version 1) names no known protocol"));
  family = protocol[3] == '4' ? AF_INET : AF_INET6;
  if (!v1_field (&line, end, FALSE, source, sizeof source) ||
      !v1_field (&line, end, FALSE, destination, sizeof destination) ||
      !v1_field (&line, end, FALSE, source_port, sizeof source_port) ||
      !v1_field (&line, end, TRUE, destination_port, sizeof destination_port))
    return bad (error, GIOS_ERROR_MALFORMED,
                _("The PROXY header (version 1) does not have its five fields"));
  if (!v1_port (source_port, &sport) || !v1_port (destination_port, &dport))
    return bad (error, GIOS_ERROR_MALFORMED,
                _("The PROXY header (version 1) has a port that is not a number from 0 to 65535"));
  header->source = v1_address (family, source, sport);
  header->destination = v1_address (family, destination, dport);
  if (header->source == NULL || header->destination == NULL)
    {
      g_clear_object (&header->source);
      g_clear_object (&header->destination);
      return bad (error, GIOS_ERROR_MALFORMED,
                  _("The PROXY header (version 1) has an address that is not one of its protocol"));
    }
  return GIOS_PROXY_PARSE_DONE;
}

/* ------------------------------------------------------------------------ */
/* Version 2: signature, version and command, family, length, addresses, TLVs */

static GSocketAddress *
v2_inet_address (const guint8   *bytes,
                 GSocketFamily   family,
                 const guint8   *port)
{
  g_autoptr(GInetAddress) address = g_inet_address_new_from_bytes (bytes, family);

  return g_inet_socket_address_new (address, (port[0] << 8) | port[1]);
}

/* A path of up to 108 bytes, NUL-terminated unless it fills them; one that
 * starts with NUL is in the abstract namespace, its length unknown: the
 * rest of the field, as the sender's sockaddr_un holds it. */
static GSocketAddress *
v2_unix_address (const guint8 *field)
{
  const char *path = (const char *) field;

  if (path[0] == '\0')
    return g_unix_socket_address_new_with_type (path + 1, V2_UNIX_PATH - 1,
                                                G_UNIX_SOCKET_ADDRESS_ABSTRACT_PADDED);
  return g_unix_socket_address_new_with_type (path, strnlen (path, V2_UNIX_PATH),
                                              G_UNIX_SOCKET_ADDRESS_PATH);
}

/* The size of the address block of @family. */
static gsize
v2_block_size (guint family)
{
  static const gsize sizes[] = { 0, 12, 36, 2 * V2_UNIX_PATH };

  return sizes[family];
}

/* Reads the address block of @family (@block) into @header. */
static void
v2_addresses (guint             family,
              const guint8     *block,
              GiosProxyHeader  *header)
{
  switch (family)
    {
    case V2_FAMILY_INET:
      header->source = v2_inet_address (block, G_SOCKET_FAMILY_IPV4, block + 8);
      header->destination = v2_inet_address (block + 4, G_SOCKET_FAMILY_IPV4, block + 10);
      break;
    case V2_FAMILY_INET6:
      header->source = v2_inet_address (block, G_SOCKET_FAMILY_IPV6, block + 32);
      header->destination = v2_inet_address (block + 16, G_SOCKET_FAMILY_IPV6, block + 34);
      break;
    case V2_FAMILY_UNIX:
      header->source = v2_unix_address (block);
      header->destination = v2_unix_address (block + V2_UNIX_PATH);
      break;
    default:
      g_assert_not_reached ();
    }
}

/* Whether @area (@size bytes) is a row of whole TLVs. */
static gboolean
v2_tlvs_fit (const guint8 *area,
             gsize         size)
{
  gsize at = 0;

  while (at < size)
    {
      if (size - at < 3)
        return FALSE;
      at += 3 + (((gsize) area[at + 1] << 8) | area[at + 2]);
      if (at > size)
        return FALSE;
    }
  return TRUE;
}

GBytes *
gios_proxy_tlvs_lookup (GBytes *tlvs,
                        guint8  type)
{
  gsize size = 0;
  const guint8 *area = tlvs != NULL ? g_bytes_get_data (tlvs, &size) : NULL;
  gsize at = 0;

  /* The area was checked by v2_tlvs_fit(). */
  while (at + 3 <= size)
    {
      gsize len = ((gsize) area[at + 1] << 8) | area[at + 2];

      if (area[at] == type)
        return g_bytes_new_from_bytes (tlvs, at + 3, len);
      at += 3 + len;
    }
  return NULL;
}

static GiosProxyParse
parse_v2 (const guint8     *data,
          gsize             size,
          gsize            *need,
          GiosProxyHeader  *header,
          GError          **error)
{
  guint command, family, transport;
  const guint8 *body;
  gsize length, body_len, block;
  gboolean proxied;

  if (size < GIOS_PROXY_V2_FIXED)
    return more (need, GIOS_PROXY_V2_FIXED);
  if ((data[12] >> 4) != 2)
    return bad (error, GIOS_ERROR_MALFORMED,
                _("The PROXY header (version 2) has a version other than 2"));
  command = data[12] & 0xF;
  family = data[13] >> 4;
  transport = data[13] & 0xF;
  if (command != V2_COMMAND_LOCAL && command != V2_COMMAND_PROXY)
    return bad (error, GIOS_ERROR_MALFORMED,
                _("The PROXY header (version 2) has an unknown command"));
  if (family > V2_FAMILY_UNIX || transport > V2_TRANSPORT_MAX)
    return bad (error, GIOS_ERROR_MALFORMED,
                _("The PROXY header (version 2) has an unknown address family or transport"));
  length = GIOS_PROXY_V2_FIXED + (((gsize) data[14] << 8) | data[15]);
  if (length > GIOS_PROXY_V2_MAX)
    return bad (error, GIOS_ERROR_TOO_LARGE,
                _("The PROXY header (version 2) is longer than 4112 bytes"));
  if (size < length)
    return more (need, length);

  header->version = 2;
  header->length = length;
  header->local = command == V2_COMMAND_LOCAL;
  body = data + GIOS_PROXY_V2_FIXED;
  body_len = length - GIOS_PROXY_V2_FIXED;
  /* Only a PROXY command over a stream of a known family replaces the real
   * peer; the others keep it (LOCAL: the balancer's own connection; an
   * unspecified family or transport, or datagrams: as the spec allows), and
   * their bytes are skipped by the length, whatever they hold. */
  proxied = !header->local && family != V2_FAMILY_UNSPEC && transport == V2_TRANSPORT_STREAM;
  block = v2_block_size (family);
  if (body_len < block)
    {
      if (proxied)
        return bad (error, GIOS_ERROR_MALFORMED,
                    _("The PROXY header (version 2) is too short for its addresses"));
      block = body_len;
    }
  if (!v2_tlvs_fit (body + block, body_len - block))
    {
      if (proxied)
        return bad (error, GIOS_ERROR_MALFORMED,
                    _("The PROXY header (version 2) has a TLV that runs past its end"));
    }
  else if (body_len > block)
    header->tlvs = g_bytes_new (body + block, body_len - block);
  if (proxied)
    v2_addresses (family, body, header);
  return GIOS_PROXY_PARSE_DONE;
}

/* ------------------------------------------------------------------------ */

GiosProxyParse
gios_proxy_header_parse (const guint8       *data,
                         gsize               size,
                         GiosProxyProtocol   accepted,
                         gsize              *need,
                         GiosProxyHeader    *header,
                         GError            **error)
{
  gboolean v1 = accepted == GIOS_PROXY_PROTOCOL_V1 || accepted == GIOS_PROXY_PROTOCOL_ANY;
  gboolean v2 = accepted == GIOS_PROXY_PROTOCOL_V2 || accepted == GIOS_PROXY_PROTOCOL_ANY;

  g_return_val_if_fail (accepted != GIOS_PROXY_PROTOCOL_NONE, GIOS_PROXY_PARSE_BAD);

  memset (header, 0, sizeof *header);
  if (size == 0)
    return more (need, 1);
  /* The first byte tells the versions apart: 'P' or CR. */
  if (v1 && may_start_with (data, size, v1_signature, V1_SIGNATURE_LEN))
    return size < V1_SIGNATURE_LEN ? more (need, V1_SIGNATURE_LEN)
                                   : parse_v1 (data, size, need, header, error);
  if (v2 && may_start_with (data, size, v2_signature, sizeof v2_signature))
    return parse_v2 (data, size, need, header, error);
  return bad (error, GIOS_ERROR_MALFORMED,
              accepted == GIOS_PROXY_PROTOCOL_V1 ? _("The connection does not start with a PROXY header (version 1)")
              : accepted == GIOS_PROXY_PROTOCOL_V2 ? _("The connection does not start with a PROXY header (version 2)")
              : _("The connection does not start with a PROXY header"));
}

void
gios_proxy_header_clear (GiosProxyHeader *header)
{
  g_clear_object (&header->source);
  g_clear_object (&header->destination);
  g_clear_pointer (&header->tlvs, g_bytes_unref);
}
