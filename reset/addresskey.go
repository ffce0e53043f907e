package reset

// AddressKey returns the keyed hash of an email address under which the
// Service counts the address's requests (HMAC-SHA-256 under a key derived
// from Config.SecretKey, hex): a name for the address that a caller may
// keep, in memory or in a log, without keeping the address. Addresses
// NormalizeEmail takes as the same have the same key. It returns
// ErrInvalidEmail for an address NormalizeEmail refuses.
//
// The forgot page (reset/pages) keeps a small quota per address under it,
// so that a client whose limit other clients behind the same address have
// spent can still ask for its own email.
func (s *Service) AddressKey(email string) (string, error) {
	e, err := NormalizeEmail(email)
	if err != nil {
		return "", err
	}
	return s.secrets.rateLimitKey(e), nil
}
