package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/paramstore/paramstore/client"
)

// exampleUpstream is a tiny SSM endpoint for the examples, standing in
// for a Paramstore server or AWS.
func exampleUpstream() *httptest.Server {
	params := map[string]string{"/app/db/url": "postgres://db:5432/app", "/app/db/user": "app", "/app/name": "demo"}
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Name, Path string }
		json.NewDecoder(r.Body).Decode(&in)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		param := func(name string) map[string]any {
			return map[string]any{"Name": name, "Type": "String", "Value": params[name], "Version": 1}
		}
		switch r.Header.Get("X-Amz-Target") {
		case "AmazonSSM.GetParameter":
			if _, ok := params[in.Name]; !ok {
				w.WriteHeader(400)
				fmt.Fprint(w, `{"__type":"ParameterNotFound"}`)
				return
			}
			json.NewEncoder(w).Encode(map[string]any{"Parameter": param(in.Name)})
		case "AmazonSSM.GetParametersByPath":
			var out []any
			for _, n := range []string{"/app/db/url", "/app/db/user", "/app/name"} {
				if strings.HasPrefix(n, in.Path+"/") {
					out = append(out, param(n))
				}
			}
			json.NewEncoder(w).Encode(map[string]any{"Parameters": out})
		default:
			http.NotFound(w, r)
		}
	}))
}

func ExampleClient_Get() {
	upstream := exampleUpstream()
	defer upstream.Close()

	ctx := context.Background()
	c, err := client.New(ctx, client.Config{
		Endpoints:   []string{upstream.URL}, // the next endpoints are tried if it fails
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	r, err := c.Get(ctx, "/app/db/url", true)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(r.Value, r.FromCache)
	r, _ = c.Get(ctx, "/app/db/url", true) // from the cache
	fmt.Println(r.Value, r.FromCache)

	_, err = c.Get(ctx, "/app/nope", true)
	var nf *types.ParameterNotFound
	fmt.Println(errors.As(err, &nf))
	// Output:
	// postgres://db:5432/app false
	// postgres://db:5432/app true
	// true
}

func ExampleClient_GetByPath() {
	upstream := exampleUpstream()
	defer upstream.Close()

	ctx := context.Background()
	c, err := client.New(ctx, client.Config{
		Endpoints:   []string{upstream.URL},
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	rs, err := c.GetByPath(ctx, "/app/db", true, true)
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range rs {
		fmt.Println(r.Name, r.Value)
	}
	// Output:
	// /app/db/url postgres://db:5432/app
	// /app/db/user app
}

// A process restarted in the middle of an outage serves from its
// persistent cache. Values past their TTL are marked Stale.
func ExampleConfig_persistentCache() {
	key, err := client.LoadKey("env:PARAMSTORE_CACHE_KEY") // base64 of 32 bytes
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	c, err := client.New(ctx, client.Config{
		Endpoints: []string{"https://paramstore-1.internal:4583", "https://paramstore-2.internal:4583"},
		Region:    "eu-west-1",
		CacheDir:  "/var/cache/myapp/params",
		CacheKey:  key,
		PathTTL:   map[string]time.Duration{"/myapp/flags/": 30 * time.Second},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	r, err := c.Get(ctx, "/myapp/db/password", true)
	if err != nil {
		log.Fatal(err)
	}
	if r.Stale {
		log.Printf("serving %s fetched at %v: the store is unreachable", r.Name, r.FetchedAt)
	}
}

func ExampleClient_Watch() {
	ctx := context.Background()
	c, err := client.New(ctx, client.Config{Endpoints: []string{"http://127.0.0.1:4583"}, Region: "us-east-1"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	changes, err := c.Watch(ctx, "/myapp")
	if err != nil {
		log.Fatal(err)
	}
	for ch := range changes {
		// The cache has already dropped the old value: Get returns the new one.
		r, err := c.Get(ctx, ch.Name, true)
		log.Println(ch.Name, ch.Version, ch.Deleted, r.Value, err)
	}
}
