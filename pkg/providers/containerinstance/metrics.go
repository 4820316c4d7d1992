package containerinstance

import (
	"errors"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	opmetrics "github.com/awslabs/operatorpkg/metrics"
	"github.com/prometheus/client_golang/prometheus"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// requestsTotal counts Container Instances calls by operation and result:
// "ok", Azure's error code, or "error" for a failure without one.
var requestsTotal = opmetrics.NewPrometheusCounter(crmetrics.Registry, prometheus.CounterOpts{
	Namespace: "azkarpenter",
	Subsystem: "containerinstance",
	Name:      "requests_total",
	Help:      "Container Instances calls by operation (create, create_wait, get, list, delete, logs, usage) and result (ok, Azure's error code, or error).",
}, []string{"operation", "result"})

// observe counts a call and returns err unchanged.
func observe(op string, err error) error {
	result := "ok"
	if err != nil {
		result = errorCode(err)
	}
	requestsTotal.Inc(map[string]string{"operation": op, "result": result})
	return err
}

func errorCode(err error) string {
	var (
		q  *QuotaExceededError
		c  *CapacityError
		b  *BadRequestError
		d  *DeploymentFailedError
		re *azcore.ResponseError
	)
	switch {
	case errors.As(err, &q):
		return CodeQuotaReached
	case errors.As(err, &c):
		return CodeServiceUnavailable
	case errors.As(err, &b):
		return b.Code
	case errors.As(err, &d):
		return d.Code
	case errors.As(err, &re) && re.ErrorCode != "":
		return re.ErrorCode
	}
	return "error"
}

// succeeded counts a call that succeeded.
func succeeded(op string) { _ = observe(op, nil) }
