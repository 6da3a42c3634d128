/* The AWS shared credentials/config parser (net/wire/aws_creds.h): the profile forms of
 * each file, comments, whitespace and CRLF, nested settings that are not the profile's keys,
 * a missing profile, and refusals that name their line (a value too long for its field, a
 * line that is no INI, a key set twice). */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "net/wire/aws_creds.h"

static int parse(const char *text, const char *name, bool config, struct sl_aws_profile *p, char *err) {
  return sl_aws_profile_parse(text, strlen(text), name, config, p, err, 128);
}

static void credentials_file(void) {
  const char *t = "# the AWS CLI's credentials file\n"
                  "[default]\n"
                  "aws_access_key_id = AKIDDEFAULT\n"
                  "aws_secret_access_key = secretdefault\n"
                  "\n"
                  "; another profile\n"
                  "[dev]\n"
                  "  aws_access_key_id=AKIDDEV\n"
                  "  aws_secret_access_key   =\twJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY   \n"
                  "aws_session_token = AQoDYXdzEPT//////////wEXAMPLE==\n"
                  "region = eu-west-1\n"
                  "output = json\n"
                  "[profile dev]\n"
                  "aws_access_key_id = WRONG\n";
  struct sl_aws_profile p;
  char err[128];
  CHECK(parse(t, "default", false, &p, err) == 0);
  CHECK_STR(p.access_key_id, "AKIDDEFAULT");
  CHECK_STR(p.secret_access_key, "secretdefault");
  CHECK_STR(p.session_token, "");
  CHECK_STR(p.region, "");
  CHECK(parse(t, "dev", false, &p, err) == 0);
  CHECK_STR(p.access_key_id, "AKIDDEV");
  CHECK_STR(p.secret_access_key, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
  CHECK_STR(p.session_token, "AQoDYXdzEPT//////////wEXAMPLE==");
  CHECK_STR(p.region, "eu-west-1");
  /* in the credentials file "[profile dev]" is a profile named "profile dev" */
  CHECK(parse(t, "profile dev", false, &p, err) == 0);
  CHECK_STR(p.access_key_id, "WRONG");
  CHECK(parse(t, "prod", false, &p, err) == -ENOENT);
  CHECK(parse(t, "Dev", false, &p, err) == -ENOENT); /* profile names are case-sensitive */
  /* a line indented deeper than the key before it continues that key's value (as in
   * configparser), even after a blank line: it is not a key of its own */
  CHECK(parse("[a]\nregion = x\nname =\n  aws_access_key_id = NOTAKEY\n\n   aws_secret_access_key = NOR\nb = y\n", "a",
              false, &p, err) == 0);
  CHECK_STR(p.region, "x");
  CHECK_STR(p.access_key_id, "");
  CHECK_STR(p.secret_access_key, "");
  /* ... and one of the four keys continued is refused (botocore would read "x\nmore") */
  CHECK(parse("[a]\nregion = x\n  more\n", "a", false, &p, err) == -EINVAL && strstr(err, "line 3") &&
        strstr(err, "region"));
  CHECK(parse("[b]\nregion = x\n  more\n[a]\n", "a", false, &p, err) == 0); /* not the profile asked for */
}

static void config_file(void) {
  const char *t = "[default]\r\n"
                  "region = us-east-1\r\n"
                  "[profile  bedrock ]\r\n"
                  "Region : us-west-2\r\n"
                  "AWS_ACCESS_KEY_ID = AKIDCFG\r\n"
                  "s3 =\r\n"
                  "  region = not-this-one\r\n"
                  "  max_concurrent_requests = 20\r\n"
                  "[bedrock]\r\n"
                  "region = not-a-profile-in-config\r\n"
                  "[sso-session my-sso]\r\n"
                  "sso_region = us-east-1\r\n";
  struct sl_aws_profile p;
  char err[128];
  CHECK(parse(t, "default", true, &p, err) == 0);
  CHECK_STR(p.region, "us-east-1");
  CHECK(parse(t, "bedrock", true, &p, err) == 0);
  CHECK_STR(p.region, "us-west-2");
  CHECK_STR(p.access_key_id, "AKIDCFG");
  CHECK(parse(t, "my-sso", true, &p, err) == -ENOENT);
  /* "[profile default]" is the default profile too */
  CHECK(parse("[profile default]\nregion = ap-south-1\n", "default", true, &p, err) == 0);
  CHECK_STR(p.region, "ap-south-1");
  /* "[default]" in the credentials file is not "[profile default]" */
  CHECK(parse("[profile default]\nregion = x\n", "default", false, &p, err) == -ENOENT);
}

static void odd_but_valid(void) {
  struct sl_aws_profile p;
  char err[128];
  /* a BOM, no final newline, an empty value, a value with '=' and ':' in it */
  CHECK(parse("\xef\xbb\xbf[a]\naws_session_token =\naws_secret_access_key = ab=c:d", "a", false, &p, err) == 0);
  CHECK_STR(p.session_token, "");
  CHECK_STR(p.secret_access_key, "ab=c:d");
  /* an empty file and one without the profile */
  CHECK(parse("", "a", false, &p, err) == -ENOENT);
  CHECK(parse("\n\n# only comments\n", "a", false, &p, err) == -ENOENT);
  /* a value exactly as long as its field allows */
  char t[300] = "[a]\nregion = ";
  size_t k = strlen(t);
  memset(t + k, 'r', 64);
  t[k + 64] = 0;
  CHECK(parse(t, "a", false, &p, err) == 0);
  CHECK(strlen(p.region) == 64);
}

static void refusals(void) {
  struct sl_aws_profile p;
  char err[128];
  /* a value one byte too long for its field: the error names the line and the key */
  char t[300] = "[a]\n# c\nregion = ";
  size_t k = strlen(t);
  memset(t + k, 'r', 65);
  t[k + 65] = 0;
  CHECK(parse(t, "a", false, &p, err) == -EINVAL);
  CHECK(strstr(err, "line 3") != NULL && strstr(err, "region") != NULL);
  CHECK(p.region[0] == 0);
  /* the same in a profile not asked for is not read */
  CHECK(parse(t, "b", false, &p, err) == -ENOENT);
  static char big[5000];
  strcpy(big, "[a]\naws_access_key_id = AKID\naws_session_token = ");
  k = strlen(big);
  memset(big + k, 't', 4097);
  CHECK(parse(big, "a", false, &p, err) == -EINVAL && strstr(err, "line 3") && strstr(err, "aws_session_token"));
  CHECK(p.access_key_id[0] == 0); /* nothing half-filled on an error */
  big[k + 4096] = 0;
  CHECK(parse(big, "a", false, &p, err) == 0 && strlen(p.session_token) == 4096);
  CHECK(parse("[a]\njunk line\n", "a", false, &p, err) == -EINVAL && strstr(err, "line 2"));
  CHECK(parse("region = x\n[a]\n", "a", false, &p, err) == -EINVAL && strstr(err, "line 1"));
  CHECK(parse("[a\nregion = x\n", "a", false, &p, err) == -EINVAL && strstr(err, "line 1"));
  CHECK(parse("[]\n", "a", false, &p, err) == -EINVAL);
  CHECK(parse("[a]\n = x\n", "a", false, &p, err) == -EINVAL && strstr(err, "line 2"));
  CHECK(parse("[a]\nregion = x\nREGION = y\n", "a", false, &p, err) == -EINVAL && strstr(err, "line 3"));
  CHECK(parse("[a]\nregion = x\n[a]\nregion = y\n", "a", false, &p, err) == -EINVAL && strstr(err, "line 3"));
  CHECK(sl_aws_profile_parse("[a]\0\n", 5, "a", false, &p, err, sizeof err) == -EINVAL);
  CHECK(parse("[a]\n", "", false, &p, err) == -EINVAL);
  CHECK(parse("[a]\n", NULL, false, &p, err) == -EINVAL);
  /* a short err buffer is cut, never overrun */
  char small[8];
  memset(small, 'z', sizeof small);
  CHECK(sl_aws_profile_parse("[a]\njunk\n", 9, "a", false, &p, small, sizeof small) == -EINVAL);
  CHECK(strlen(small) == 7);
}

CHECK_MAIN(T(credentials_file), T(config_file), T(odd_but_valid), T(refusals))
