FROM golang:1.26.8 AS build
WORKDIR /src
COPY . .
RUN CGO_ENABLED=0 go build -o /out/piivault ./cmd/piivault

FROM gcr.io/distroless/static-debian13:nonroot
COPY --from=build /out/piivault /usr/local/bin/piivault
VOLUME ["/data"]
USER 0
HEALTHCHECK CMD ["/usr/local/bin/piivault", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/piivault"]
