package workos_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/workos"
)

func TestUserJSONShape(t *testing.T) {
	u := reset.User{
		ID: "user_01E4ZCR3C56J083X43JQXF3JK5", Email: "marcelina.davis@example.com", EmailVerified: true,
		FirstName: "Marcelina", CreatedAt: time.Date(2026, 1, 15, 12, 0, 0, 123456789, time.UTC),
		UpdatedAt: time.Date(2026, 1, 15, 12, 0, 0, 0, time.FixedZone("CET", 3600)),
	}
	b, err := json.Marshal(workos.User(u))
	require.NoError(t, err)
	require.JSONEq(t, `{"object":"user","id":"user_01E4ZCR3C56J083X43JQXF3JK5","email":"marcelina.davis@example.com",
		"email_verified":true,"first_name":"Marcelina","last_name":null,"name":"Marcelina","profile_picture_url":null,
		"external_id":null,"locale":null,"metadata":{},"last_sign_in_at":null,
		"created_at":"2026-01-15T12:00:00.123Z","updated_at":"2026-01-15T11:00:00.000Z"}`, string(b))
	var back workos.User
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, u.ID, back.ID)
	require.True(t, back.CreatedAt.Equal(u.CreatedAt.Truncate(time.Millisecond)))
}

func TestPasswordResetJSONShape(t *testing.T) {
	at := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	pr := reset.PasswordReset{ID: "password_reset_01E4ZCR3C56J083X43JQXF3JK5", UserID: "user_01E4ZCR3C56J083X43JQXF3JK5",
		Email: "marcelina.davis@example.com", CreatedAt: at, ExpiresAt: at, Token: "Z1uX3RbwcIl5fIGJJJCXXisdI",
		URL: "https://your-app.com/reset-password?token=Z1uX3RbwcIl5fIGJJJCXXisdI"}
	b, err := json.Marshal(workos.PasswordReset(pr))
	require.NoError(t, err)
	require.JSONEq(t, `{"object":"password_reset","id":"password_reset_01E4ZCR3C56J083X43JQXF3JK5",
		"user_id":"user_01E4ZCR3C56J083X43JQXF3JK5","email":"marcelina.davis@example.com",
		"expires_at":"2026-01-15T12:00:00.000Z","created_at":"2026-01-15T12:00:00.000Z",
		"password_reset_token":"Z1uX3RbwcIl5fIGJJJCXXisdI",
		"password_reset_url":"https://your-app.com/reset-password?token=Z1uX3RbwcIl5fIGJJJCXXisdI"}`, string(b))
	pr.Token, pr.URL = "", ""
	b, err = json.Marshal(workos.PasswordReset(pr))
	require.NoError(t, err)
	require.NotContains(t, string(b), "password_reset_token")
}

func TestEventJSONShape(t *testing.T) {
	at := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	e := reset.Event{ID: "event_01E4ZCR3C56J083X43JQXF3JK5", Event: reset.EventPasswordResetCreated, CreatedAt: at,
		Data: reset.PasswordReset{ID: "password_reset_01E4ZCR3C56J083X43JQXF3JK5", UserID: "user_01", Email: "a@example.com", CreatedAt: at, ExpiresAt: at.Add(time.Hour)}}
	b, err := json.Marshal(workos.Event(e))
	require.NoError(t, err)
	require.JSONEq(t, `{"id":"event_01E4ZCR3C56J083X43JQXF3JK5","event":"password_reset.created","created_at":"2026-01-15T12:00:00.000Z",
		"data":{"object":"password_reset","id":"password_reset_01E4ZCR3C56J083X43JQXF3JK5","user_id":"user_01","email":"a@example.com",
		"expires_at":"2026-01-15T13:00:00.000Z","created_at":"2026-01-15T12:00:00.000Z"}}`, string(b))
}
