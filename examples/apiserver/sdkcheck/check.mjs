// check.mjs drives examples/apiserver with WorkOS's official Node SDK
// (@workos-inc/node), unchanged but for its base URL, and checks that every
// call behaves as WorkOS documents. See README.md beside it.
//
//   RESET_API_KEY=sk_test_sdkcheck_0123456789abcdef0123 APISERVER=http://127.0.0.1:8081 node check.mjs

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import {
  WorkOS,
  BadRequestException,
  GenericServerException,
  NotFoundException,
  OauthException,
  RateLimitExceededException,
  UnauthorizedException,
} from '@workos-inc/node';

const base = new URL(process.env.APISERVER ?? 'http://127.0.0.1:8081');
const apiKey = process.env.RESET_API_KEY;
if (!apiKey) {
  console.error('RESET_API_KEY must hold the key the server was started with');
  process.exit(2);
}
const options = {
  apiHostname: base.hostname,
  port: base.port ? Number(base.port) : undefined,
  https: base.protocol === 'https:',
  clientId: 'client_sdkcheck',
};
const workos = new WorkOS(apiKey, options);
const um = workos.userManagement;

const results = [];
async function step(name, fn) {
  try {
    await fn();
    results.push(['ok', name]);
    console.log(`ok    ${name}`);
  } catch (err) {
    results.push(['FAIL', name]);
    console.log(`FAIL  ${name}\n      ${err?.stack ?? err}`);
  }
}
async function rejects(promise, Class, check = () => {}) {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof Class, `want ${Class.name}, got ${err?.name}: ${err?.message}`);
    check(err);
    return err;
  }
  assert.fail(`want ${Class.name}, got success`);
}
const isTime = (s) => typeof s === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(s);

const email = `sdkcheck+${Date.now()}@example.com`;
const password = 'correct horse battery';
const newPassword = 'a much better passphrase';
let user, auth, refreshed, reset, sealedSession;

await step('createUser', async () => {
  user = await um.createUser({
    email, password, firstName: 'Marcelina', lastName: 'Davis', emailVerified: false,
    externalId: 'ext-sdkcheck', metadata: { timezone: 'America/New_York' },
  });
  assert.equal(user.object, 'user');
  assert.match(user.id, /^user_[0-9A-Z]{26}$/);
  assert.equal(user.email, email);
  assert.equal(user.firstName, 'Marcelina');
  assert.equal(user.lastName, 'Davis');
  assert.equal(user.emailVerified, false);
  assert.equal(user.externalId, 'ext-sdkcheck');
  assert.deepEqual(user.metadata, { timezone: 'America/New_York' });
  assert.equal(user.profilePictureUrl, null);
  assert.equal(user.lastSignInAt, null);
  assert.ok(isTime(user.createdAt) && isTime(user.updatedAt));
});

await step('createUser with a taken email: BadRequestException user_creation_error', async () => {
  await rejects(um.createUser({ email, password }), BadRequestException, (e) => {
    assert.equal(e.code, 'user_creation_error');
    assert.equal(e.errors[0].code, 'email_not_available');
  });
});

await step('getUser', async () => {
  const got = await um.getUser(user.id);
  assert.deepEqual(got, user);
});

await step('getUser unknown: NotFoundException', async () => {
  await rejects(um.getUser('user_01E4ZCR3C56J083X43JQXF3JK5'), NotFoundException, (e) => assert.match(e.message, /not found/i));
});

await step('authenticateWithPassword', async () => {
  auth = await um.authenticateWithPassword({ email, password, ipAddress: '203.0.113.42', userAgent: 'sdkcheck/1.0' });
  assert.equal(auth.user.id, user.id);
  assert.ok(isTime(auth.user.lastSignInAt));
  assert.equal(typeof auth.accessToken, 'string');
  assert.equal(typeof auth.refreshToken, 'string');
  assert.equal(auth.authenticationMethod, 'Password');
});

await step('authenticateWithPassword, wrong password: 400 invalid_credentials', async () => {
  await rejects(um.authenticateWithPassword({ email, password: 'wrong password' }), GenericServerException, (e) => {
    assert.equal(e.status, 400);
    assert.equal(e.rawData.code, 'invalid_credentials');
  });
});

await step('authenticateWithPassword with session sealing', async () => {
  const res = await um.authenticateWithPassword({
    email, password, session: { sealSession: true, cookiePassword: 'a cookie password of at least 32 characters' },
  });
  assert.equal(typeof res.sealedSession, 'string');
  sealedSession = res.sealedSession;
});

await step('authenticateWithRefreshToken rotates the refresh token', async () => {
  refreshed = await um.authenticateWithRefreshToken({ refreshToken: auth.refreshToken });
  assert.equal(refreshed.user.id, user.id);
  assert.notEqual(refreshed.refreshToken, auth.refreshToken);
  await rejects(um.authenticateWithRefreshToken({ refreshToken: auth.refreshToken }), OauthException, (e) => {
    assert.equal(e.status, 400);
    assert.equal(e.error, 'invalid_grant');
  });
});

await step('createPasswordReset', async () => {
  reset = await um.createPasswordReset({ email });
  assert.equal(reset.object, 'password_reset');
  assert.match(reset.id, /^password_reset_[0-9A-Z]{26}$/);
  assert.equal(reset.userId, user.id);
  assert.equal(reset.email, email);
  assert.equal(typeof reset.passwordResetToken, 'string');
  assert.ok(reset.passwordResetUrl.includes(encodeURIComponent(reset.passwordResetToken)) || reset.passwordResetUrl.includes(reset.passwordResetToken));
  assert.ok(isTime(reset.expiresAt) && isTime(reset.createdAt));
});

await step('createPasswordReset unknown email: NotFoundException', async () => {
  await rejects(um.createPasswordReset({ email: 'nobody@example.com' }), NotFoundException);
});

await step('getPasswordReset (no token or URL: only their hash is stored)', async () => {
  const got = await um.getPasswordReset(reset.id);
  assert.equal(got.id, reset.id);
  assert.equal(got.userId, user.id);
  assert.equal(got.email, email);
  assert.equal(got.expiresAt, reset.expiresAt);
  assert.equal(got.createdAt, reset.createdAt);
  assert.equal(got.passwordResetToken, undefined);
  assert.equal(got.passwordResetUrl, undefined);
});

await step('getPasswordReset unknown: NotFoundException', async () => {
  await rejects(um.getPasswordReset('password_reset_01E4ZCR3C56J083X43JQXF3JK5'), NotFoundException);
});

await step('resetPassword with a weak password: BadRequestException password_reset_error', async () => {
  await rejects(um.resetPassword({ token: reset.passwordResetToken, newPassword: 'short' }), BadRequestException, (e) => {
    assert.equal(e.code, 'password_reset_error');
    assert.equal(e.errors[0].code, 'password_too_weak');
    assert.ok(e.errors[0].message.length > 0);
  });
});

await step('resetPassword', async () => {
  const res = await um.resetPassword({ token: reset.passwordResetToken, newPassword });
  assert.equal(res.user.id, user.id);
  assert.equal(res.user.emailVerified, true);
});

await step('resetPassword again: BadRequestException password_reset_token_invalid', async () => {
  await rejects(um.resetPassword({ token: reset.passwordResetToken, newPassword: 'yet another passphrase' }), BadRequestException, (e) => {
    assert.equal(e.code, 'password_reset_error');
    assert.equal(e.errors[0].code, 'password_reset_token_invalid');
  });
});

await step('the reset revoked the sessions: refresh tokens fail', async () => {
  await rejects(um.authenticateWithRefreshToken({ refreshToken: refreshed.refreshToken }), OauthException, (e) => assert.equal(e.error, 'invalid_grant'));
  await rejects(um.authenticateWithPassword({ email, password }), GenericServerException, (e) => assert.equal(e.status, 400));
});

let active;
await step('listSessions shows them revoked', async () => {
  active = await um.authenticateWithPassword({ email, password: newPassword, userAgent: 'sdkcheck/2.0' });
  const list = await um.listSessions(user.id);
  assert.equal(list.object, 'list');
  assert.equal(list.data.length, 3);
  const [newest, ...older] = list.data;
  assert.equal(newest.object, 'session');
  assert.equal(newest.userId, user.id);
  assert.equal(newest.status, 'active');
  assert.equal(newest.userAgent, 'sdkcheck/2.0');
  assert.equal(newest.authMethod, 'password');
  assert.equal(newest.endedAt, null);
  for (const s of older) {
    assert.equal(s.status, 'revoked');
    assert.ok(isTime(s.endedAt));
  }
  assert.equal(older.at(-1).ipAddress, '203.0.113.42');
  assert.deepEqual(list.listMetadata, { before: null, after: null });
});

await step('listSessions paginates', async () => {
  const page = await um.listSessions(user.id, { limit: 1 });
  assert.equal(page.data.length, 1);
  assert.equal(typeof page.listMetadata.after, 'string');
  const next = await um.listSessions(user.id, { limit: 1, after: page.listMetadata.after });
  assert.equal(next.data.length, 1);
  assert.notEqual(next.data[0].id, page.data[0].id);
  const all = await (await um.listSessions(user.id, { order: 'asc' })).autoPagination();
  assert.equal(all.length, 3);
  assert.ok(all[0].createdAt <= all[2].createdAt);
});

await step('revokeSession', async () => {
  const list = await um.listSessions(user.id);
  const session = list.data.find((s) => s.status === 'active');
  await um.revokeSession({ sessionId: session.id });
  const after = await um.listSessions(user.id);
  assert.equal(after.data.find((s) => s.id === session.id).status, 'revoked');
  await rejects(um.authenticateWithRefreshToken({ refreshToken: active.refreshToken }), OauthException, (e) => assert.equal(e.error, 'invalid_grant'));
});

await step('revokeSession unknown: 400', async () => {
  await rejects(um.revokeSession({ sessionId: 'session_01H93ZY4F80QPBEZ1R5B2SHQG8' }), GenericServerException, (e) => assert.equal(e.status, 400));
});

await step('createPasswordReset rate limit: RateLimitExceededException with retryAfter', async () => {
  await um.createPasswordReset({ email });
  await um.createPasswordReset({ email });
  await rejects(um.createPasswordReset({ email }), RateLimitExceededException, (e) => {
    assert.equal(e.status, 429);
    assert.ok(Number.isInteger(e.retryAfter) && e.retryAfter > 0, `retryAfter ${e.retryAfter}`);
  });
});

await step('a wrong API key: UnauthorizedException', async () => {
  const wrong = new WorkOS('sk_test_wrong', options);
  await rejects(wrong.userManagement.getUser(user.id), UnauthorizedException);
  await rejects(wrong.userManagement.authenticateWithPassword({ email, password: newPassword }), OauthException, (e) => assert.equal(e.error, 'invalid_client'));
});

// Every secret the run saw, one per line, for a search of the database
// files afterwards (see README.md).
if (process.env.SDKCHECK_SECRETS) {
  const secrets = [password, newPassword, apiKey, reset?.passwordResetToken, auth?.accessToken, auth?.refreshToken,
    refreshed?.accessToken, refreshed?.refreshToken, active?.accessToken, active?.refreshToken];
  writeFileSync(process.env.SDKCHECK_SECRETS, secrets.filter(Boolean).join('\n') + '\n');
}

const failed = results.filter(([r]) => r === 'FAIL').length;
console.log(`\n${results.length - failed} passed, ${failed} failed`);
void sealedSession;
process.exit(failed ? 1 : 0);
