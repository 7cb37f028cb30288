/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A wake-up descriptor: an eventfd made on first use, that one thread
 * signals and another polls and drains. The gate wakes its waits with one;
 * the job pool its accepting thread waiting for a free slot.
 *
 * It is made lazily, under the owner's lock, and may fail (no descriptors
 * left): then waits look at their flags at short intervals instead. GLib's
 * GCancellable cannot serve here, since it aborts the process when it
 * cannot make its descriptor.
 */
#pragma once

#include <glib.h>
#include <unistd.h>
#include <sys/eventfd.h>

G_BEGIN_DECLS

typedef struct
{
  int fd;                  /* atomic; NONE until made, FAILED if it could not be */
} GiosWakeup;

#define GIOS_WAKEUP_NONE   (-1)
#define GIOS_WAKEUP_FAILED (-2)

static inline void
gios_wakeup_init (GiosWakeup *wakeup)
{
  wakeup->fd = GIOS_WAKEUP_NONE;
}

static inline void
gios_wakeup_clear (GiosWakeup *wakeup)
{
  if (wakeup->fd >= 0)
    close (wakeup->fd);
  wakeup->fd = GIOS_WAKEUP_NONE;
}

/* Makes the descriptor unless made, under @lock, the lock its owner holds
 * while deciding to signal: a signal after this call is never missed.
 * Returns it, or -1 where none could be made. */
static inline int
gios_wakeup_prepare (GiosWakeup *wakeup,
                     GMutex     *lock)
{
  int fd;

  g_mutex_lock (lock);
  if (wakeup->fd == GIOS_WAKEUP_NONE)
    {
      fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
      g_atomic_int_set (&wakeup->fd, fd >= 0 ? fd : GIOS_WAKEUP_FAILED);
    }
  fd = wakeup->fd;
  g_mutex_unlock (lock);
  return fd >= 0 ? fd : -1;
}

/* Wakes whoever polls the descriptor; nothing when it is not made yet. */
static inline void
gios_wakeup_signal (GiosWakeup *wakeup)
{
  int fd = g_atomic_int_get (&wakeup->fd);

  if (fd >= 0)
    {
      guint64 one = 1;

      (void) !write (fd, &one, sizeof one);
    }
}

/* Takes the signals that made @fd readable. */
static inline void
gios_wakeup_drain (int fd)
{
  guint64 count;

  (void) !read (fd, &count, sizeof count);
}

G_END_DECLS
