// Package pgproxy is qgate's PostgreSQL wire-protocol listener: psql, pgx,
// libpq, JDBC and ORMs connect to it as to PostgreSQL, with a qgate token
// as the password, and every statement is decided on its own before it
// reaches the upstream server.
//
// # Connecting
//
// The user name is the token's public id, the password is the whole token,
// and the database name is ignored (the target names the upstream
// database). On a plain connection the token is checked with SCRAM-SHA-256
// against the verifier stored when the token was issued, so the token never
// crosses the wire; on a TLS connection (when the target has a certificate)
// the client sends it in clear inside TLS and it is verified like an HTTP
// bearer token. Every refused login reads the same, "password
// authentication failed for user X" (SQLSTATE 28P01), is audited with its
// real reason and is slowed down per source address.
//
// Each client session gets its own upstream session, opened with the
// target's credentials and the client's startup parameters
// (application_name, search_path, options, ...). The client sees the
// upstream's ParameterStatus messages and its real process id; the secret
// key is qgate's own, and a CancelRequest carrying it is forwarded with the
// upstream's key.
//
// # Statements
//
// Simple Query: the whole query string (all its statements) is one request.
// Allowed, its exact text is forwarded; denied, the client gets an
// ErrorResponse (SQLSTATE 42501, the policy's message, the request id in
// DETAIL); held for review, a NOTICE names the review first and the
// statement runs once it is approved.
//
// Extended protocol: each Parse text is analysed once; the decision is
// taken for each Execute, with the bound parameters part of what approvers
// see and of the approval's hash. Messages are buffered until the client
// asks for results (Sync or Flush); at that point the buffered Executes are
// decided in order, and a held one holds the rest of the pipeline.
//
// A refusal behaves like a PostgreSQL error at the same place: qgate sends
// the upstream an Execute of a portal that cannot exist in place of the
// refused statement, so the upstream itself aborts the transaction (a later
// COMMIT answers ROLLBACK) and skips the rest of the pipeline until Sync,
// and the upstream's "portal does not exist" error is replaced on the way
// back by qgate's own ErrorResponse.
//
// COPY is decided with its statement, before any data flows; copy data is
// streamed both ways.
//
// # Messages from the server
//
// Between answers the relay waits on the upstream, so notifications,
// notices, ParameterStatus changes and the FATAL error that ends an
// upstream session reach the client at once, while it is idle or one of
// its statements is held.
//
// # Backpressure
//
// A session holds fixed buffers: a client that reads slowly makes qgate
// stop reading the upstream. Extended-protocol messages are forwarded at
// least every 1 MiB, and a held client's further messages are read up to
// 1 MiB.
//
// # Limits
//
// After authentication and before the upstream connection, a session is
// counted against the target's MaxConnections and the token's
// MaxConnectionsPerToken (taken from the qgate.Target; 0 is unlimited);
// over either, the client gets FATAL 53300 and an "auth" audit event with
// action "deny" records why. With an IdleTimeout, a session that sends
// nothing for that long while no statement runs or is held is closed with
// FATAL 57P05.
//
// # Audit
//
// Every statement gets a "request" audit event before anything is
// forwarded (when the append fails, nothing is forwarded) and an
// "execution" event with its command tag, row count, duration and
// SQLSTATE once the upstream has answered.
package pgproxy
