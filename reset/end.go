package reset

import (
	"context"
	"fmt"
)

// EndResets ends every outstanding reset of the user: the links and codes
// already sent stop working at once, as if a newer reset had replaced
// them. It returns how many it ended (0 for a user with none, or an
// unknown id).
//
// Call it whenever your app changes a user's email or password itself,
// outside passreset: a link sent to the old address would otherwise still
// reset the password, and one requested before a password change would
// still undo it. (A redemption also refuses a reset whose address is no
// longer the user's, in the step that spends it; EndResets ends the reset
// for good, and covers the password change too.) passreset's own
// ResetPassword and package account's ChangePassword need no call.
func (s *Service) EndResets(ctx context.Context, userID string) (int, error) {
	n, err := s.store.EndResets(ctx, userID, s.clock())
	if err != nil {
		return 0, fmt.Errorf("reset: end resets: %w", err)
	}
	if n > 0 {
		s.log.InfoContext(ctx, "password resets ended by the host", "user_id", userID, "count", n)
	}
	return n, nil
}
