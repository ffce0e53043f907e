package pages

// Wait blocks until the Handler's background reset requests have finished,
// so that a test can look for their emails and logs. It is a test hook,
// not part of the API: a host waits with Shutdown.
func (h *Handler) Wait() { h.wait() }
