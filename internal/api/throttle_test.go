package api_test

import (
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/paramstore/paramstore/internal/server"
	"github.com/paramstore/paramstore/internal/servertest"
	"github.com/paramstore/paramstore/internal/throttle"
)

// readsLimit allows a burst of two reads per access key. Its rate refills
// one token every 1000 s, far longer than any test run, so the test does not
// depend on how fast requests are sent.
func readsLimit(c *server.Config) {
	c.Throttle[throttle.Reads] = throttle.Limit{Rate: 0.001, Burst: 2}
}

// TestThrottlingPerAccessKey exhausts one access key's read bucket and
// checks the third read is refused as AWS refuses it, while another key,
// and the same key's writes, still go through.
func TestThrottlingPerAccessKey(t *testing.T) {
	tests := []struct {
		name string
		// clients returns the noisy client (with rec as its HTTP client),
		// another key's client, and a client to create the fixture.
		clients func(t *testing.T, rec *recorder) (noisy, other, setup *ssm.Client)
	}{
		{
			name: "any signature (NoAuth)",
			clients: func(t *testing.T, rec *recorder) (*ssm.Client, *ssm.Client, *ssm.Client) {
				_, ep := servertest.Start(t, readsLimit)
				noisy := servertest.Client(t, ep, testRegion)
				other := servertest.ClientWith(t, ep, testRegion, "AKIDOTHER", "secret", "")
				return ssm.New(noisy.Options(), rec.with), other, noisy
			},
		},
		{
			name: "verified signatures",
			clients: func(t *testing.T, rec *recorder) (*ssm.Client, *ssm.Client, *ssm.Client) {
				e := newAuthEnv(t, readsLimit)
				user := e.newUser("reader", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ssm:*","Resource":"*"}}`)
				return ssm.New(e.client(user).Options(), rec.with), e.rootC, e.rootC
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			noisy, other, setup := tc.clients(t, rec)
			_, err := setup.PutParameter(bg, &ssm.PutParameterInput{Name: aws.String("/t/p"), Value: aws.String("v"), Type: types.ParameterTypeString})
			if err != nil {
				t.Fatal(err)
			}
			get := func(c *ssm.Client) error {
				_, err := c.GetParameter(bg, &ssm.GetParameterInput{Name: aws.String("/t/p")})
				return err
			}
			for i := 1; i <= 2; i++ {
				if err := get(noisy); err != nil {
					t.Fatalf("read %d within the burst: %v", i, err)
				}
			}
			err = get(noisy)
			wantAPIError(t, err, "ThrottlingException", "Rate exceeded")
			if rec.status != http.StatusBadRequest {
				t.Errorf("got HTTP status %d, want 400", rec.status)
			}
			// Every read operation shares the bucket.
			_, err = noisy.GetParameters(bg, &ssm.GetParametersInput{Names: []string{"/t/p"}})
			wantAPIError(t, err, "ThrottlingException", "Rate exceeded")

			// Fairness: other keys have buckets of their own.
			for i := 1; i <= 2; i++ {
				if err := get(other); err != nil {
					t.Errorf("read %d by another access key: got %v, want success", i, err)
				}
			}
			// Writes have their own, unlimited class.
			_, err = noisy.PutParameter(bg, &ssm.PutParameterInput{Name: aws.String("/t/p"), Value: aws.String("w"), Overwrite: aws.Bool(true)})
			if err != nil {
				t.Errorf("write by the throttled key: got %v, want success", err)
			}
		})
	}
}

// TestAdminListingsAreNotWrites: the admin API's listings change nothing
// and take from the describes bucket, so a key whose writes are exhausted
// still lists users, access keys and keyring keys.
func TestAdminListingsAreNotWrites(t *testing.T) {
	e := newAuthEnv(t, func(c *server.Config) {
		c.Throttle[throttle.Writes] = throttle.Limit{Rate: 0.001, Burst: 1}
	})
	e.rootAdmin("CreateUser", map[string]string{"UserName": "first"}, nil)
	wantWire(t, e.admin(e.root, "CreateUser", map[string]string{"UserName": "second"}), "ThrottlingException", "Rate exceeded")
	for _, op := range []string{"ListUsers", "ListAccessKeys", "ListKeys"} {
		for i := 1; i <= 3; i++ {
			if res := e.admin(e.root, op, map[string]string{}); res.status != http.StatusOK {
				t.Errorf("%s %d with writes exhausted: got %d %s %q, want 200", op, i, res.status, res.code, res.msg)
			}
		}
	}
}
