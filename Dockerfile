# syntax=docker/dockerfile:1
# The azkarpenter controller image: a static Go binary on distroless, run as
# the nonroot user (65532), with nothing else in it (no shell, no package
# manager). Build with `make image`; the Helm chart runs it read-only with
# every capability dropped.
ARG GO_VERSION=1.26.8

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG TARGETOS=linux
ARG TARGETARCH
ARG VERSION=dev
# CGO off: a static binary that needs no libc in the image.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags "-s -w -X sigs.k8s.io/karpenter/pkg/operator.Version=${VERSION}" \
      -o /out/controller ./cmd/controller

# static-debian12 carries CA certificates and tzdata, which the Azure SDK
# and the Retail Prices client need, and nothing else.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/controller /controller
USER 65532:65532
ENTRYPOINT ["/controller"]
