// Package storetest is the conformance suite for qgate.Store
// implementations. Every store runs the same tests, so the embedded SQLite
// store and the PostgreSQL store keep exactly the same contract:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) qgate.Store {
//			db := MustOpen(t)
//			t.Cleanup(func() { db.Close() })
//			return db
//		})
//	}
//
// The suite includes concurrent compare-and-set updates of reviews and
// concurrent audit appends from many goroutines, checked with audit.Verify.
package storetest
