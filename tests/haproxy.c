/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Behind the real HAProxy: for each serving model and both PROXY protocol
 * versions, a client connects to HAProxy, which forwards to the server with
 * `send-proxy` or `send-proxy-v2` and health checks (`check`), which connect,
 * send a header (LOCAL for version 2) and close. The server answers the
 * client's line with the remote address it sees: it must be the client's,
 * and the checks must disturb nothing. Skipped where haproxy is not
 * installed (tools/install-deps installs it).
 *
 * HAProxy's frontend is a socket the test made listening on port 0 and
 * passes as descriptor 3 (`bind fd@3`): no port is guessed. HAProxy is
 * started by the test and stopped by its pid.
 */
#include "gios-test-utils.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

typedef struct
{
  GiosTestModel model;
  GiosProxyProtocol version;
} Case;

static char *
find_haproxy (void)
{
  char *path = g_find_program_in_path ("haproxy");

  if (path == NULL && g_file_test ("/usr/sbin/haproxy", G_FILE_TEST_IS_EXECUTABLE))
    path = g_strdup ("/usr/sbin/haproxy");
  return path;
}

/* A listening socket on 127.0.0.1, port 0: its descriptor and port. */
static int
listen_loopback (guint *port)
{
  struct sockaddr_in sin = { .sin_family = AF_INET };
  socklen_t len = sizeof sin;
  int fd = socket (AF_INET, SOCK_STREAM, 0);

  g_assert_cmpint (fd, >=, 0);
  sin.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &sin, sizeof sin), ==, 0);
  g_assert_cmpint (listen (fd, 16), ==, 0);
  g_assert_cmpint (getsockname (fd, (struct sockaddr *) &sin, &len), ==, 0);
  *port = ntohs (sin.sin_port);
  return fd;
}

/* In HAProxy's process before it starts: it ends with the test, even one
 * that aborts before it could stop it. */
static void
die_with_parent (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

typedef struct
{
  GSubprocess *process;
  char *dir;
  char *config;
  guint port;               /* the frontend's */
} Haproxy;

/* Starts HAProxy in front of @backend_port, speaking @version to it. */
static Haproxy *
haproxy_start (const char        *binary,
               guint              backend_port,
               GiosProxyProtocol  version)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  Haproxy *h = g_new0 (Haproxy, 1);
  int frontend = listen_loopback (&h->port);

  h->dir = g_dir_make_tmp ("gios-haproxy-XXXXXX", &error);
  g_assert_no_error (error);
  h->config = g_build_filename (h->dir, "haproxy.cfg", NULL);
  text = g_strdup_printf ("global\n"
                          "  nbthread 1\n"
                          "defaults\n"
                          "  mode tcp\n"
                          "  timeout connect 2s\n"
                          "  timeout client 10s\n"
                          "  timeout server 10s\n"
                          "frontend fe\n"
                          "  bind fd@3\n"
                          "  default_backend be\n"
                          "backend be\n"
                          "  server s1 127.0.0.1:%u %s check inter 100ms\n",
                          backend_port, version == GIOS_PROXY_PROTOCOL_V1 ? "send-proxy" : "send-proxy-v2");
  g_assert_true (g_file_set_contents (h->config, text, -1, &error));
  g_assert_no_error (error);

  g_subprocess_launcher_take_fd (launcher, frontend, 3);
  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  h->process = g_subprocess_launcher_spawn (launcher, &error, binary, "-db", "-q", "-f", h->config, NULL);
  g_assert_no_error (error);
  return h;
}

/* Stops HAProxy by its pid and waits for it. */
static void
haproxy_stop (Haproxy *h)
{
  g_autoptr(GError) error = NULL;
  const char *pid = g_subprocess_get_identifier (h->process);

  if (pid != NULL)
    g_assert_cmpint (kill ((pid_t) g_ascii_strtoll (pid, NULL, 10), SIGTERM), ==, 0);
  g_assert_true (g_subprocess_wait (h->process, NULL, &error));
  g_assert_no_error (error);
  g_object_unref (h->process);
  g_unlink (h->config);
  g_rmdir (h->dir);
  g_free (h->config);
  g_free (h->dir);
  g_free (h);
}

/* ------------------------------------------------------------------------ */
/* The server side                                                            */

typedef struct
{
  GiosServerSocket *server;
  gint checks;              /* atomic: connections that closed without a line */
  gint served;              /* atomic */
  gint done;                /* atomic: the client has its answer */
} Serving;

/* Answers @line (NULL: the connection ended without one, as health checks
 * do: counted) on @connection with "ADDRESS:PORT LINE", the remote address
 * it sees. */
static void
answer_line (Serving          *serving,
             GiosSocketCommon *connection,
             const char       *line)
{
  GiosDeviceStream *stream = GIOS_DEVICE_STREAM (connection);
  GInetSocketAddress *remote = G_INET_SOCKET_ADDRESS (gios_socket_common_get_remote_address (connection));
  g_autofree char *address = NULL;
  g_autofree char *reply = NULL;
  g_autoptr(GError) error = NULL;

  if (line == NULL)
    {
      g_atomic_int_inc (&serving->checks);
      return;
    }
  address = g_inet_address_to_string (g_inet_socket_address_get_address (remote));
  reply = g_strdup_printf ("%s:%u %s", address, g_inet_socket_address_get_port (remote), line);
  g_assert_true (gios_device_stream_write_line (stream, reply, NULL, &error));
  g_assert_true (gios_device_stream_flush (stream, 2000, NULL, &error));
  g_assert_no_error (error);
  g_atomic_int_inc (&serving->served);
}

/* Reads a line from @connection and answers it. */
static void
answer (GiosSocketCommon *connection,
        gpointer          serving)
{
  g_autofree char *line = gios_device_stream_read_line (GIOS_DEVICE_STREAM (connection), 0, NULL, 2000,
                                                        NULL, NULL);

  answer_line (serving, connection, line);
}

static void
on_line (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  g_autoptr(GiosSocket) connection = GIOS_SOCKET (source);
  g_autofree char *line = gios_device_stream_read_line_finish (GIOS_DEVICE_STREAM (connection), result,
                                                               NULL, NULL);

  /* A short line to a reading peer: written at once. */
  answer_line (data, GIOS_SOCKET_COMMON (connection), line);
}

static gboolean
on_accepted (GiosServerSocket *server,
             GiosSocket       *connection,
             Serving          *serving)
{
  gios_device_stream_read_line_async (GIOS_DEVICE_STREAM (connection), 0, 2000, G_PRIORITY_DEFAULT, NULL,
                                      on_line, serving);
  g_object_ref (connection);
  return TRUE;
}

/* Serves in the model of @c until the client is done (20 s at most). */
static void
serve (Serving    *serving,
       const Case *c)
{
  GiosServerSocket *server = serving->server;
  gint64 end = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;

  if (c->model == GIOS_TEST_MODEL_START)
    {
      g_signal_connect (server, "accepted", G_CALLBACK (on_accepted), serving);
      g_assert_true (gios_server_socket_start (server, NULL));
      GIOS_TEST_RUN_UNTIL_WITHIN (20, g_atomic_int_get (&serving->done));
      gios_server_socket_stop (server);
      return;
    }
  while (!g_atomic_int_get (&serving->done) && g_get_monotonic_time () < end)
    g_assert_cmpint (gios_test_serve_round (server, c->model, 100, 4, answer, serving), >=, 0);
  g_assert_true (gios_server_socket_wait_jobs (server, 5000, NULL));
}

/* ------------------------------------------------------------------------ */
/* The client, on its own thread                                              */

typedef struct
{
  Serving *serving;
  guint port;               /* HAProxy's */
  char *expected;           /* the answer it must get */
  char *answer;
} Client;

static gpointer
client_run (gpointer data)
{
  Client *client = data;
  struct sockaddr_in sin;
  socklen_t len = sizeof sin;
  int fd;

  /* After a health check or two, so that they are seen to do no harm. */
  for (guint i = 0; i < 400 && g_atomic_int_get (&client->serving->checks) < 2; i++)
    g_usleep (10 * 1000);
  fd = gios_test_raw_connect (AF_INET, client->port);
  g_assert_cmpint (getsockname (fd, (struct sockaddr *) &sin, &len), ==, 0);
  client->expected = g_strdup_printf ("127.0.0.1:%u hello\n", ntohs (sin.sin_port));
  gios_test_raw_send (fd, "hello\n");
  client->answer = gios_test_raw_recv (fd, strlen (client->expected));
  close (fd);
  g_atomic_int_set (&client->serving->done, 1);
  return NULL;
}

static void
test_behind_haproxy (gconstpointer data)
{
  const Case *c = data;
  g_autofree char *binary = find_haproxy ();
  g_autoptr(GiosServerSocket) server = NULL;
  Serving serving = { 0 };
  Client client = { 0 };
  GThread *thread;
  Haproxy *h;

  if (binary == NULL)
    {
      g_test_skip ("haproxy is not installed");
      return;
    }
  server = gios_test_open_loopback_server ();
  g_object_set (server, "proxy-protocol", c->version, "handshake-timeout", 2000, NULL);
  serving.server = server;
  h = haproxy_start (binary, gios_test_server_port (server), c->version);

  client.serving = &serving;
  client.port = h->port;
  thread = g_thread_new ("client", client_run, &client);
  serve (&serving, c);
  g_thread_join (thread);
  haproxy_stop (h);

  g_assert_cmpstr (client.answer, ==, client.expected);
  g_assert_cmpint (g_atomic_int_get (&serving.served), ==, 1);
  g_assert_cmpint (g_atomic_int_get (&serving.checks), >=, 2);
  g_free (client.expected);
  g_free (client.answer);
}

int
main (int   argc,
      char *argv[])
{
  static const Case cases[] = {
    { GIOS_TEST_MODEL_LISTEN, GIOS_PROXY_PROTOCOL_V1 }, { GIOS_TEST_MODEL_LISTEN, GIOS_PROXY_PROTOCOL_V2 },
    { GIOS_TEST_MODEL_ACCEPT, GIOS_PROXY_PROTOCOL_V1 }, { GIOS_TEST_MODEL_ACCEPT, GIOS_PROXY_PROTOCOL_V2 },
    { GIOS_TEST_MODEL_JOBS, GIOS_PROXY_PROTOCOL_V1 },   { GIOS_TEST_MODEL_JOBS, GIOS_PROXY_PROTOCOL_V2 },
    { GIOS_TEST_MODEL_START, GIOS_PROXY_PROTOCOL_V1 },  { GIOS_TEST_MODEL_START, GIOS_PROXY_PROTOCOL_V2 },
  };

  g_test_init (&argc, &argv, NULL);
  signal (SIGPIPE, SIG_IGN);

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/haproxy/%s/v%d", gios_test_model_names[cases[i].model],
                                               cases[i].version == GIOS_PROXY_PROTOCOL_V1 ? 1 : 2);

      g_test_add_data_func (path, &cases[i], test_behind_haproxy);
    }
  return g_test_run ();
}
