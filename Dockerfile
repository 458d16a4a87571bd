# The image to copy rinit from: nothing but the static /rinit, for one
# architecture. Built by scripts/copy-image.sh into Docker (scripts/release.sh
# builds one per architecture), and by scripts/image-index.sh with buildah for
# each platform of the one multi-platform image, dist/rinit-image.tar; in an
# application's Dockerfile:
#
#     COPY --from=rinit:amd64 /rinit /rinit
#     ENTRYPOINT ["/rinit", "--"]
#
# The build context holds only the binary, named `rinit`. FROM scratch, so
# `docker build --platform linux/ARCH` needs neither a registry nor emulation.
FROM scratch
COPY rinit /rinit
ENTRYPOINT ["/rinit", "--"]
