FROM golang:1.26.8 AS build
WORKDIR /src
COPY . .
RUN CGO_ENABLED=0 go build -o /usr/local/bin/piivault ./cmd/piivault
VOLUME /data
USER 65532
HEALTHCHECK CMD ["/usr/local/bin/piivault","healthcheck"]

