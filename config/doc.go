// Package config loads qgate's YAML configuration.
//
// Decoding is strict: an unknown key is an error naming the file, line and
// key. Every field is validated and all problems are reported at once, each
// with its position. Secrets never appear inline: upstream passwords come
// from password_env or password_file, webhook signing secrets from
// secret_env or secret_file, and ${NAME} references are expanded only in
// upstream header values, where API keys are injected.
package config
