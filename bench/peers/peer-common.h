/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Shared setup for the benchmark echo peers: the same listening socket
 * (127.0.0.1, SO_REUSEADDR, backlog 1024), the same 64 KiB read buffer and
 * TCP_NODELAY on every accepted connection, so that the peers differ only
 * in their serving model.  Plain libc: the epoll and thread peers do not
 * link GLib.
 */
#pragma once

#include <stdbool.h>

#define PEER_BACKLOG  1024
#define PEER_BUF_SIZE (64 * 1024)

/* The options a peer takes besides --port and --reuse-port. */
typedef enum
{
  PEER_ARG_MAX_JOBS = 1 << 0,   /* --max-jobs=N */
  PEER_ARG_TLS      = 1 << 1,   /* --tls-certificate=FILE and --tls-key=FILE (PEM), both required */
} PeerArgs;

typedef struct
{
  int         port;              /* --port, 0 = any */
  int         max_jobs;          /* --max-jobs, only for peers that accept it */
  const char *tls_certificate;   /* --tls-certificate, only with PEER_ARG_TLS */
  const char *tls_key;           /* --tls-key, only with PEER_ARG_TLS */
} PeerOptions;

/* Parses --port=N, --reuse-port (for peer_listen()) and the options of
 * @accepts; exits with status 2 on a usage error. */
void peer_parse_args (int          argc,
                      char       **argv,
                      PeerArgs     accepts,
                      PeerOptions *opts);

/* Creates the listening socket on 127.0.0.1:@port (with SO_REUSEPORT after
 * --reuse-port) and stores the bound port in @bound_port.  Exits with
 * status 1 on failure. */
int  peer_listen (int  port,
                  int *bound_port);

/* Prints "PORT <n>" as the first line on stdout and flushes it. */
void peer_announce (int port);

void peer_set_nodelay (int fd);

/* Ignores SIGPIPE: a write to a peer that has gone away must fail, not kill. */
void peer_ignore_sigpipe (void);

/* Blocks SIGTERM and SIGINT and returns a signalfd (close-on-exec,
 * non-blocking) that becomes readable when one arrives.  Call it before any
 * thread starts, so that only the descriptor sees them.  Exits with status
 * 1 on failure. */
int  peer_signalfd (void);
