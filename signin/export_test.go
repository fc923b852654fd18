package signin

// SetVerify replaces the password check Users.Authenticate uses.
func SetVerify(u *Users, f func(password, hash string) (bool, Params, error)) { u.verify = f }
