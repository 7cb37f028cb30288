/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The PROXY protocol header (HAProxy's doc/proxy-protocol.txt, versions 1
 * and 2) as a pure parser: bytes in, a verdict out, no I/O. The hand-over
 * stage (gios-handover.c) reads the bytes; this file only says whether they
 * are a header yet.
 *
 * A verdict is one of: more bytes are needed (at least so many in all),
 * the bytes are not a header (why, as a GError), or a header of so many
 * bytes with its command, addresses and TLVs. Every byte a "more" verdict
 * was given is part of the header, so a reader may consume them all.
 *
 * Sizes are capped before anything is allocated: a version 1 line is at
 * most 107 bytes (the spec's worst case, "PROXY UNKNOWN" with two full IPv6
 * addresses), a version 2 header at most GIOS_PROXY_V2_MAX bytes.
 */
#pragma once

#include <gio/gio.h>
#include <gios/gios.h>

G_BEGIN_DECLS

/* The longest version 1 line, CRLF included. */
#define GIOS_PROXY_V1_MAX 107
/* The fixed part of a version 2 header: signature, version and command,
 * family, length. */
#define GIOS_PROXY_V2_FIXED 16
/* The longest version 2 header accepted: 16 bytes and 4 KiB of addresses
 * and TLVs. The largest address block is 216 bytes (AF_UNIX), and every TLV
 * HAProxy 2.6 sends together (authority and ALPN up to 255 bytes each,
 * unique id up to 128, the SSL TLV with its version, CN, cipher and
 * algorithm names, netns, CRC32c) stays well under 2 KiB; the spec's own
 * limit, 16 + 65535, would let every half-open connection hold 64 KiB. */
#define GIOS_PROXY_V2_MAX (GIOS_PROXY_V2_FIXED + 4096)
/* The most any header takes, for a reader's buffer. */
#define GIOS_PROXY_MAX GIOS_PROXY_V2_MAX

/* TLV types of version 2 that the library looks at. */
#define GIOS_PROXY_TLV_AUTHORITY 0x02
#define GIOS_PROXY_TLV_SSL       0x20
/* In the first byte (client) of the SSL TLV: the client used TLS. */
#define GIOS_PROXY_SSL_CLIENT_SSL 0x01

typedef enum
{
  GIOS_PROXY_PARSE_DONE,
  GIOS_PROXY_PARSE_MORE,
  GIOS_PROXY_PARSE_BAD,
} GiosProxyParse;

typedef struct
{
  gsize length;                /* of the whole header, in bytes */
  guint version;               /* 1 or 2 */
  /* A version 2 LOCAL command: the balancer's own connection (a health
   * check), which keeps its real peer. */
  gboolean local;
  /* The original client and the address it connected to; NULL when the
   * header gives none (v1 UNKNOWN, v2 LOCAL or UNSPEC): the real peer
   * stays. */
  GSocketAddress *source;
  GSocketAddress *destination;
  /* The TLV area of a version 2 header (checked: every TLV fits), or NULL
   * when there is none. */
  GBytes *tlvs;
} GiosProxyHeader;

/* Parses @data (@size bytes) as a header of the versions @accepted allows
 * (not GIOS_PROXY_PROTOCOL_NONE). MORE: *@need is the least total size worth
 * another try. DONE: @header is filled in (clear it with
 * gios_proxy_header_clear()). BAD: @error says why (GIOS_ERROR_MALFORMED,
 * or GIOS_ERROR_TOO_LARGE over the caps). */
GiosProxyParse gios_proxy_header_parse (const guint8       *data,
                                        gsize               size,
                                        GiosProxyProtocol   accepted,
                                        gsize              *need,
                                        GiosProxyHeader    *header,
                                        GError            **error);
void           gios_proxy_header_clear (GiosProxyHeader    *header);

/* The value of the first TLV of @type in @tlvs (a checked TLV area, or
 * NULL), or NULL. */
GBytes        *gios_proxy_tlvs_lookup  (GBytes             *tlvs,
                                        guint8              type);

G_END_DECLS
