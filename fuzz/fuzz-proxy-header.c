/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target for the PROXY protocol parser (gios-proxy-header.c), in
 * each mode it can be configured for: a verdict is always one of the three,
 * a header never claims more bytes than it was given nor more than the
 * caps, "more" always asks for more than it has, and the TLVs it keeps can
 * be walked.
 */

#include "gios-private.h"
#include "gios-proxy-header.h"

int LLVMFuzzerTestOneInput (const guint8 *data,
                            size_t        size);

static void
check (const guint8      *data,
       gsize              size,
       GiosProxyProtocol  accepted)
{
  GiosProxyHeader header;
  GError *error = NULL;
  gsize need = 0;

  switch (gios_proxy_header_parse (data, size, accepted, &need, &header, &error))
    {
    case GIOS_PROXY_PARSE_DONE:
      g_assert (error == NULL);
      g_assert (header.length > 0 && header.length <= size);
      g_assert (header.length <= (header.version == 1 ? GIOS_PROXY_V1_MAX : GIOS_PROXY_V2_MAX));
      g_assert ((header.source == NULL) == (header.destination == NULL));
      for (guint type = 0; type < 256; type += 17)
        {
          GBytes *value = gios_proxy_tlvs_lookup (header.tlvs, type);

          if (value != NULL)
            g_bytes_unref (value);
        }
      gios_proxy_header_clear (&header);
      break;
    case GIOS_PROXY_PARSE_MORE:
      g_assert (error == NULL);
      g_assert (need > size);
      g_assert (need <= GIOS_PROXY_MAX);
      break;
    case GIOS_PROXY_PARSE_BAD:
      g_assert (error != NULL);
      g_assert (header.source == NULL && header.tlvs == NULL);
      g_error_free (error);
      break;
    }
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  check (data, size, GIOS_PROXY_PROTOCOL_V1);
  check (data, size, GIOS_PROXY_PROTOCOL_V2);
  check (data, size, GIOS_PROXY_PROTOCOL_ANY);
  return 0;
}
