/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Helpers shared by the C tests, written once (as libsoup's
 * tests/test-utils.c does): timing windows, main loops that end by
 * themselves, a call blocked in another thread, children that change the
 * whole process (running out of descriptors or memory), loopback servers
 * and raw clients, the stream under test with its raw other end, and bytes
 * spelt in hex.
 */
#pragma once

#include <gios/gios.h>

G_BEGIN_DECLS

/* ------------------------------------------------------------------------ */
/* Timing: @start is a g_get_monotonic_time() taken before the call           */

/* Milliseconds since @start. */
gint64 gios_test_elapsed_ms     (gint64 start);

/* Asserts that at least @min_ms and less than @max_ms have passed since
 * @start: for a call with a window of its own. */
void   gios_test_assert_elapsed (gint64 start,
                                 gint64 min_ms,
                                 gint64 max_ms);

/* Asserts that a call that timed out after @timeout_ms took about that long:
 * -5 %, +50 % and 150 ms of slack for valgrind. */
void   gios_test_assert_timed   (gint64 start,
                                 int    timeout_ms);

/* Asserts that a call that failed with @error timed out, after about
 * @timeout_ms as gios_test_assert_timed() has it; then clears @error. */
void   gios_test_assert_timed_out (GError **error,
                                   gint64   start,
                                   int      timeout_ms);

/* ------------------------------------------------------------------------ */
/* Main loops: every one in a test ends by itself                             */

/* A timeout source on the default main context that fails the test
 * (g_error) after @seconds; the test removes it when done. */
guint gios_test_add_watchdog (guint seconds);

/* Iterates the default main context until @condition holds, failing the
 * test if it does not within @seconds (GIOS_TEST_RUN_UNTIL: 10 s). */
#define GIOS_TEST_RUN_UNTIL_WITHIN(seconds, condition)                      \
  G_STMT_START                                                              \
  {                                                                         \
    guint gios_test_watchdog_id_ = gios_test_add_watchdog (seconds);        \
                                                                            \
    while (!(condition))                                                    \
      g_main_context_iteration (NULL, TRUE);                                \
    g_source_remove (gios_test_watchdog_id_);                               \
  }                                                                         \
  G_STMT_END

#define GIOS_TEST_RUN_UNTIL(condition) GIOS_TEST_RUN_UNTIL_WITHIN (10, condition)

/* A GAsyncReadyCallback that keeps a reference to @result in the
 * GAsyncResult pointer @data points to (for the test to unref). */
void          gios_test_on_async_done (GObject       *source,
                                       GAsyncResult  *result,
                                       gpointer       data);

/* Runs the default context until gios_test_on_async_done() has filled
 * @slot (GIOS_TEST_RUN_UNTIL), and returns it. */
GAsyncResult *gios_test_wait_result   (GAsyncResult **slot);

/* ------------------------------------------------------------------------ */
/* A call blocked in another thread, for the test to wake                     */

/* The blocking call: returns whether it succeeded, sets @error if not. */
typedef gboolean (*GiosTestBlockingFunc) (gpointer   data,
                                          GError   **error);

typedef struct
{
  gboolean ok;          /* what the call returned */
  GError *error;        /* the error it set */
  gint64 returned_at;   /* when it returned (monotonic) */

  /*< private >*/
  GiosTestBlockingFunc func;
  gpointer data;
  GThread *thread;
  GMutex lock;
  GCond cond;
  gboolean started;
} GiosTestBlocked;

/* Starts @func (@data) in a new thread and returns once it is about to
 * block (give or take: the assertions must hold either way). */
GiosTestBlocked *gios_test_blocked_start (GiosTestBlockingFunc func,
                                          gpointer             data);

/* The same without the pause: returns as soon as the thread is about to
 * make the call, for races against a call that may or may not block yet. */
GiosTestBlocked *gios_test_blocked_race  (GiosTestBlockingFunc func,
                                          gpointer             data);

/* Waits for the call to return, and asserts that it returned within a
 * second of @woken_at, taken just before the test woke it. */
void             gios_test_blocked_join  (GiosTestBlocked     *blocked,
                                          gint64               woken_at);

/* Joins as gios_test_blocked_join() does, and asserts that the call failed
 * with @domain and @code. */
void             gios_test_blocked_join_error (GiosTestBlocked *blocked,
                                               gint64           woken_at,
                                               GQuark           domain,
                                               gint             code);

/* Cancels @cancellable, which the call was given, and asserts that the call
 * returned within a second, failing with G_IO_ERROR_CANCELLED. */
void             gios_test_blocked_cancel     (GiosTestBlocked *blocked,
                                               GCancellable    *cancellable);

void             gios_test_blocked_free  (GiosTestBlocked     *blocked);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GiosTestBlocked, gios_test_blocked_free)

/* ------------------------------------------------------------------------ */
/* Children                                                                   */

/* Runs @checks in a forked child whose address space may grow by at most
 * @headroom bytes (RLIMIT_AS), and asserts that the child exited with 0:
 * for showing that something fails without allocating. */
void gios_test_fork_with_address_limit (void    (*checks) (void),
                                        guint64   headroom);

/* Runs @checks (@data) in a subprocess of the current test
 * (g_test_trap_subprocess(), with its stderr shown) and asserts that it
 * passed within @timeout_s: for checks that change the whole process, such
 * as resource limits, log writers and the user id. The test function calls
 * it; in the subprocess, it runs @checks. */
void gios_test_run_in_subprocess       (GTestDataFunc checks,
                                        gconstpointer data,
                                        guint         timeout_s);

/* ------------------------------------------------------------------------ */
/* Running out of descriptors, in a subprocess                                */

/* Lowers the descriptor limit to 64 and fills the table with duplicates of
 * stdin; returns them, the newest last. */
GArray  *gios_test_fill_descriptor_table (void);

/* Closes the newest @n of @fds (asserting there are @n) and drops them, so
 * that @n descriptors are free again. */
void     gios_test_free_descriptors      (GArray *fds,
                                          guint   n);

/* Installs a log writer that counts warnings and messages, which is how
 * the library reports running out and recovering. Warnings stop there
 * (under GTest they would abort); messages go on to the default writer.
 * Once per process: the later calls do nothing. */
void     gios_test_count_log             (void);
guint    gios_test_get_warnings          (void);
guint    gios_test_get_messages          (void);

/* Waits until @n warnings have been logged since gios_test_count_log(), at
 * most @timeout_ms; returns whether they were. */
gboolean gios_test_wait_warnings         (guint  n,
                                          int    timeout_ms);

/* The same for @n messages (a dropped connection's report, say). */
gboolean gios_test_wait_messages         (guint  n,
                                          int    timeout_ms);

/* ------------------------------------------------------------------------ */
/* Loopback servers and raw clients                                           */

/* A GiosServerSocket open on 127.0.0.1, on the port the kernel picks. */
GiosServerSocket *gios_test_open_loopback_server (void);

/* The port @server listens on, as a number and as open() takes it. */
guint             gios_test_server_port          (GiosServerSocket  *server);
char             *gios_test_server_port_string   (GiosServerSocket  *server);

/* A loopback server and a GiosSocket connected to it, not yet accepted. */
void              gios_test_tcp_open             (GiosServerSocket **server,
                                                  GiosSocket       **client);

/* A raw client of @server (see gios_test_raw_connect()), its descriptor
 * in @client, and the connection @server accepted from it, asserted. */
GiosSocket       *gios_test_accept_raw           (GiosServerSocket  *server,
                                                  int               *client);

/* The descriptor of a connected GiosSocket. */
int               gios_test_socket_fd            (gpointer           socket);

/* A loopback port that was free a moment ago: for a connection that must
 * be refused, or a program that takes no port 0. */
guint             gios_test_free_port            (void);

/* A plain client made with the system calls, so that a test of the server
 * tests the server alone: connected to @port on the loopback address of
 * @family (AF_INET or AF_INET6), asserted. */
int               gios_test_raw_connect          (int                family,
                                                  guint              port);

/* Sends @text in one send(), asserted whole: for short texts. */
void              gios_test_raw_send             (int                fd,
                                                  const char        *text);

/* Receives until @len bytes or the end of input; returns them as a string. */
char             *gios_test_raw_recv             (int                fd,
                                                  gsize              len);

/* Asserts that @address is an internet address @ip (as
 * g_inet_address_to_string() spells it), port @port. */
void              gios_test_assert_inet          (GSocketAddress     *address,
                                                  const char         *ip,
                                                  guint               port);

/* Whether this machine has an IPv6 loopback interface to bind. */
gboolean          gios_test_have_ipv6_loopback   (void);

/* Closes @fd with a reset (SO_LINGER 0) instead of an orderly end: the
 * peer reset of TESTING.md. */
void              gios_test_raw_reset            (int                fd);

/* Asserts that the server side of @fd went away within 5 s: @fd sees the
 * end of input or a reset. */
void              gios_test_raw_assert_dropped   (int                fd);

/* Reads and discards what arrived on @fd without waiting; returns whether
 * its end (end of input or a reset) was reached. */
gboolean          gios_test_raw_has_ended        (int                fd);

/* Asserts that @fd sees its end within 5 s, after whatever the server sent
 * (a TLS server's first flight, say), which is discarded. */
void              gios_test_raw_assert_ends      (int                fd);

/* Waits until the server's side of the IPv4 loopback connection @fd has
 * read everything @fd sent (its receive queue in /proc/net/tcp is empty),
 * 10 s at most: the server is in the middle of what it was sent, not about
 * to start. */
void              gios_test_raw_wait_sent_read   (int                fd);

/* listen() on one thread against drop_connection() on another, round after
 * round, until stopped: the hand-over of a connection racing its drop. */
typedef struct
{
  GiosServerSocket *server;
  int listen_timeout_ms;  /* each listen() waits this long at most */
  guint listened;         /* listen() calls that returned TRUE */

  /*< private >*/
  gint stop;
  GThread *listener;
  GThread *dropper;
} GiosTestListenDropRace;

/* Starts both threads on @server. */
GiosTestListenDropRace *gios_test_listen_drop_race_start (GiosServerSocket       *server,
                                                          int                     listen_timeout_ms);

/* Stops and joins them; returns how many listen() calls returned TRUE. */
guint                   gios_test_listen_drop_race_stop  (GiosTestListenDropRace *race);

/* A new private directory for Unix sockets, to remove with g_rmdir(). */
char             *gios_test_make_temp_dir        (void);

/* What a socket's "disconnected" signal said: how often, and the last
 * intent and reason (for the test to clear). */
typedef struct
{
  guint count;
  gboolean intentional;
  GError *reason;
} GiosTestDisconnects;

/* A "disconnected" handler (G_CALLBACK) that records into @d. */
void              gios_test_on_disconnected      (GiosSocketCommon    *socket,
                                                  gboolean             intentional,
                                                  GError              *reason,
                                                  GiosTestDisconnects *d);

/* ------------------------------------------------------------------------ */
/* The stream under test, and its raw other end (the peer)                    */

/* Two connected Unix stream sockets (close-on-exec), asserted. */
void              gios_test_socketpair         (int         fds[2]);

/* A GSocketConnection that owns @fd. */
GIOStream        *gios_test_socket_stream_new  (int         fd);

/* A GiosDeviceStream over such a connection. */
GiosDeviceStream *gios_test_stream_over_socket (int         fd);

/* A GIOStream without a descriptor: it reads @data (which must outlive it)
 * and writes into a GMemoryOutputStream. */
GIOStream        *gios_test_memory_stream_new  (const void *data,
                                                gsize       len);

/* A stream under test and the raw descriptor of its other end. */
typedef struct
{
  GiosDeviceStream *stream;  /* under test */
  int stream_fd;             /* the descriptor it reads and writes */
  int peer;                  /* the raw other end; -1 once closed */
  GiosServerSocket *server;  /* TCP only: the server that accepted it */
  GiosSocket *client;        /* gios_test_pair_new_tcp() only: owns the peer */
} GiosTestPair;

/* Makes the stream under test over @fd, which it then owns. */
typedef GiosDeviceStream *(*GiosTestStreamFunc) (int fd);

/* Over a socketpair: @new_stream makes the stream over one end. */
GiosTestPair *gios_test_pair_new_socketpair (GiosTestStreamFunc new_stream);

/* Over TCP: the GiosSocket a loopback server accepted, whose peer is a
 * connected GiosSocket's descriptor. */
GiosTestPair *gios_test_pair_new_tcp        (void);

/* Over TCP with a raw peer: the GiosSocket a loopback server accepted from
 * a client made with the system calls (gios_test_accept_raw()), for tests
 * of the accepted connection that drive the other end by hand. */
GiosTestPair *gios_test_pair_new_accepted   (void);

/* The peer goes away: its descriptor is closed (or its GiosSocket, if any). */
void          gios_test_pair_close_peer     (GiosTestPair *pair);

/* The peer goes away with a reset (SO_LINGER 0), as gios_test_raw_reset(). */
void          gios_test_pair_reset_peer     (GiosTestPair *pair);

void          gios_test_pair_free           (GiosTestPair *pair);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GiosTestPair, gios_test_pair_free)

/* The byte at @offset of a long payload whose bytes differ from their
 * neighbours: a receiver checks each, so that a lost, doubled or reordered
 * byte shows. */
guint8   gios_test_pattern_byte      (guint64     offset);

/* Writes all of @data to @fd, waiting while the kernel is full (20 s at
 * most): for payloads larger than a socket buffer. */
void     gios_test_peer_write_all    (int         fd,
                                      const void *data,
                                      gsize       len);
void     gios_test_peer_write_str    (int         fd,
                                      const char *text);

/* Reads exactly @len bytes from @fd, within 20 s. */
void     gios_test_peer_read_exact   (int         fd,
                                      void       *buffer,
                                      gsize       len);
GBytes  *gios_test_peer_read_bytes   (int         fd,
                                      gsize       len);
/* Reads as many bytes as @expected has from @fd, within 20 s, and asserts
 * that they are @expected. */
void     gios_test_peer_assert_reads (int         fd,
                                      const char *expected);

/* Whether input waits on @fd now. */
gboolean gios_test_peer_has_input    (int         fd);

/* Waits until at least @n bytes wait in the kernel to be read from @fd (the
 * stream's side), 10 s at most: a condition, not a pause. */
void     gios_test_wait_kernel_input (int         fd,
                                      int         n);

/* A thread that writes to the peer at a pace, so that what the stream reads
 * comes in several arrivals. */
typedef struct _GiosTestSender GiosTestSender;

/* Starts writing a copy of @data to @fd, @chunk bytes at a time, @delay_us
 * apart (a pace, not a synchronisation). */
GiosTestSender *gios_test_sender_start         (int         fd,
                                                const void *data,
                                                gsize       len,
                                                gsize       chunk,
                                                gulong      delay_us);

/* Starts writing a copy of @data to @fd one byte at a time, each once the
 * reader has taken the one before out of the kernel of @reader_fd (10 s at
 * most): every byte is an arrival of its own. Then @fd's output is shut
 * down if @shutdown_after. */
GiosTestSender *gios_test_sender_start_trickle (int         fd,
                                                int         reader_fd,
                                                const void *data,
                                                gsize       len,
                                                gboolean    shutdown_after);

/* Waits until everything was written, and frees @sender. */
void            gios_test_sender_join          (GiosTestSender *sender);

/* SIGUSR1, without SA_RESTART, at the calling thread every @interval_us
 * from another thread: its blocking system calls fail with EINTR (the
 * EINTR of TESTING.md). */
typedef struct _GiosTestInterrupter GiosTestInterrupter;

GiosTestInterrupter *gios_test_interrupter_start (gulong               interval_us);

/* Stops the signals, restores SIGUSR1's handler and frees @in; returns how
 * many signals were sent. */
guint                gios_test_interrupter_stop  (GiosTestInterrupter *in);

/* ------------------------------------------------------------------------ */
/* The serving models                                                         */

typedef enum
{
  GIOS_TEST_MODEL_LISTEN,   /* the classic model: the server's own connection */
  GIOS_TEST_MODEL_ACCEPT,
  GIOS_TEST_MODEL_JOBS,
  GIOS_TEST_MODEL_START,    /* the main loop: not for gios_test_serve_round() */
} GiosTestModel;

/* "listen", "accept", "jobs", "start": for test paths. */
extern const char *const gios_test_model_names[];

/* Serves one connection (on a job's thread in the jobs model). */
typedef void (*GiosTestServeFunc) (GiosSocketCommon *connection,
                                   gpointer          data);

/* One round of a blocking model: waits up to @wait_ms for connections and
 * serves them with @func (the classic model's own connection, dropped
 * after; an accepted socket; or jobs, at most @max_jobs at once). Returns
 * what listen_job() returns in the jobs model, and 1 or 0 (served one or
 * not) in the others. */
gint gios_test_serve_round (GiosServerSocket  *server,
                            GiosTestModel      model,
                            int                wait_ms,
                            guint              max_jobs,
                            GiosTestServeFunc  func,
                            gpointer           data);

/* ------------------------------------------------------------------------ */
/* Bytes spelt in hex, as LIST-FORMAT.md writes them: "07 01 68 65 6C 6C 6F" */

/* The bytes @hex spells: two digits a byte, whitespace between ignored. */
GBytes *gios_test_hex_bytes        (const char *hex);

/* @bytes spelt in hex, a space between bytes. */
char   *gios_test_bytes_hex        (GBytes     *bytes);

/* Asserts that @bytes are the ones @hex spells (showing both if not). */
void    gios_test_assert_bytes_hex (GBytes     *bytes,
                                    const char *hex);

G_END_DECLS
