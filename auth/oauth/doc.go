// Package oauth signs users in through outside identity providers: GitHub
// and Google by OAuth 2 (golang.org/x/oauth2), and any OpenID Connect
// issuer found by its discovery document (github.com/coreos/go-oidc/v3).
// Google is an OpenID Connect issuer too (https://accounts.google.com).
//
// It owns one sign-in's round trip, and guarantees:
//
//  1. Every flow uses PKCE with S256 (RFC 7636): the verifier never leaves
//     the server, so a stolen authorization code is useless elsewhere.
//  2. The state is kept server side ([Flows]) with an expiry, is single use
//     (taken on the first callback, whatever its outcome), and is bound to
//     the provider that started it. The caller also binds it to the browser
//     (a cookie), so a callback URL sent to someone else signs nobody in.
//  3. An OpenID Connect ID token is verified (signature by the issuer's
//     JWKS, issuer, audience, expiry) and its nonce must be the flow's.
//  4. An [Identity] carries an e-mail only if the provider says it is
//     verified (GitHub: the primary, verified address of /user/emails;
//     OIDC: the email_verified claim). Otherwise [ErrUnverifiedEmail].
//
// It keeps no accounts: the caller (package rpc) finds or makes the user
// for an [Identity]. Providers and [Flows] are safe for concurrent use.
//
// It must not import rpc, actors or cluster.
package oauth
