package testproc

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// StartMoto runs moto_server, the stand-in for AWS SSM, on a free port
// until the test ends, and returns its URL once it answers.
func StartMoto(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("moto_server"); err != nil {
		t.Fatalf("moto_server is required (pip install 'moto[server]'): %v", err)
	}
	addr := FreeAddr(t)
	_, port, _ := strings.Cut(addr, ":")
	if _, err := strconv.Atoi(port); err != nil {
		t.Fatalf("FreeAddr %q", addr)
	}
	cmd := exec.Command("moto_server", "-p", port)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out // read only after it exited
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	u := fmt.Sprintf("http://127.0.0.1:%s", port)
	// moto_server imports much of boto3 and Flask before it listens: a
	// few seconds of CPU, past a minute at a load average of 30 on two
	// cores. It gets as long as it keeps running (3 minutes at most).
	const startTimeout = 3 * time.Minute
	deadline := time.Now().Add(startTimeout)
	for {
		resp, err := http.Get(u + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			break
		}
		select {
		case werr := <-exited:
			exited <- werr // for the cleanup
			t.Fatalf("moto_server exited before it answered (%v): %s", werr, bytes.TrimSpace(out.Bytes()))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("moto_server did not answer within %v: %v", startTimeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Its SSM backend loads on the first SSM call (the public parameters
	// it serves): another few seconds of CPU, which made a test's first
	// write time out after 30 s (tests/agent TestAgentCrash, load 20).
	// One call waits for it here, as long as it takes.
	hc := &http.Client{Timeout: time.Until(deadline) + time.Minute}
	ssmc := ssm.New(ssm.Options{Region: "us-east-1", BaseEndpoint: aws.String(u), HTTPClient: hc,
		Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", ""), Retryer: ClosedConnRetryer()})
	if _, err := ssmc.DescribeParameters(context.Background(), &ssm.DescribeParametersInput{}); err != nil {
		t.Fatalf("moto_server's first SSM call: %v", err)
	}
	return u
}
