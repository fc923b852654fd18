package webhook_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/qgate/qgate/notify/webhook"
)

// A receiver checks the signature on the raw body before decoding it.
func ExampleVerify() {
	secret := []byte("whsec-0123456789abcdef") // the same bytes as qgate's secret_env/secret_file
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 4<<20))
		if err != nil {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		if err := webhook.Verify(secret, r.Header.Get(webhook.HeaderSignature), body, time.Now(), 5*time.Minute); err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var ev webhook.Event
		if err := json.Unmarshal(body, &ev); err != nil {
			http.Error(w, "bad payload", http.StatusBadRequest)
			return
		}
		// ev.ID (= Qgate-Delivery) is the same on retries: drop duplicates.
		fmt.Println(ev.Type, ev.Review.ID, ev.Review.Status)
		w.WriteHeader(http.StatusNoContent)
	})

	// What qgate sends:
	body := `{"id":"0190a8e2-7c1e-7b3a-9d2f-6f1c2b3a4d5e","type":"review.decided","time":"2030-01-02T03:04:05Z","review":{"id":42,"status":"approved"},"url":"http://127.0.0.1:8080/reviews/42"}`
	req := httptest.NewRequest(http.MethodPost, "/qgate", strings.NewReader(body))
	req.Header.Set(webhook.HeaderSignature, webhook.Sign(secret, time.Now(), []byte(body)))
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	fmt.Println(rec.Code)

	// A forged request:
	req = httptest.NewRequest(http.MethodPost, "/qgate", strings.NewReader(body))
	req.Header.Set(webhook.HeaderSignature, webhook.Sign([]byte("guessed-secret-000000"), time.Now(), []byte(body)))
	rec = httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	fmt.Println(rec.Code)
	// Output:
	// review.decided 42 approved
	// 204
	// 401
}
