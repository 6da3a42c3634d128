/* THROWAWAY TEST KEYS, generated for sluice's unit tests with
 *   openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048
 *   openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256
 * They protect nothing and must never be used for anything but tests. */
#ifndef SL_TEST_GCP_TEST_KEYS_H
#define SL_TEST_GCP_TEST_KEYS_H

static const char TEST_RSA_PEM[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC6hDNRz4IZGVum\n"
    "ahJtBOACPSaOJVmnXiIudspKCxjiTTVtY/ChrADdo+Ne6hFuNnsA1GwCNOWz3yuu\n"
    "d1BsdOTBqinxyOAPHYXQUiIR8JC4WEVXGqF2CrKVXuwznM+m+d0zvXQGfrSmWDUH\n"
    "heCk9JzNtpObkXn3MX0vj/zroL43kRz6fLoFfwtilgjV9uUC7aqUFNH4FLW07GX2\n"
    "/Yj4DvTXqccvmLVFLSE5vg0ck62jszMf8KZ2MbF4AMhnet3hussM1e8S5WXN7gMN\n"
    "kt3Rn3rkqx54CTsZ/LWwbj8sPsN3pY9hiPN8lggCgOaIHsLmTV0uOi6MJA9FHcDw\n"
    "RkSjtQ/FAgMBAAECggEADZWUUUiOPqVl/e8AIY2MgnfmsiKj7s3V1SbUto4sBUtp\n"
    "8T9+pp/APmRHKpdcpqIe1PbOWQjLlA1UgUlHrmaDGgclNUAT8DXjvuzvIKRck03m\n"
    "haC3EsGrs7etTK2xQrA0Z/t2kwSGbrkXlPvaBS7wVAaQpfDIqR7NxyQzCmGeM64P\n"
    "U+JsNrhrMsPxHTOh4sHb+I5sW/vS6dbWyMZODugWm9Y8szJ6wE+Aindrk6iUjiVS\n"
    "qMoW0M1VcjXj8BFTwspgR4FD/yPewy1OxmqbIiCwg5plR6SGxCPJqV0f2rDUTWQy\n"
    "ewBcws6voP3eDrAdFxXf65eYmCPwsvjD+xIqX1/5sQKBgQD8BjVjIPJqAQwzePXD\n"
    "0oYeZ9BY7OZH/oTP/wGDNgT/oCgZh7a4dGduR4lV8u9Bh5Ksz8n3pyCXTOeG6MSB\n"
    "kfGgLX2dT22pOC7rBowHtFRS5vygHfmxfxeBYAcaS+RsPMVqGmt09ezzWORFa02Y\n"
    "Cyo/ZJAZfz223JgXSaSbGh6PyQKBgQC9dXDRxIFfLcrzWHD6FmWqxnEQe1z4Q9k6\n"
    "VJGBzx4WXbp7mgkpELB8cpQ3R3Qx00gpPFRKzoW//aKsha3sLSGmRVXA/GN6PPrV\n"
    "t0WKMW7y4OBjOq/OphoNd3NMUxUOVvGQvTJxGYUUEm3Zg4iD68rKirvjKvWV9QHT\n"
    "dTEW24eWHQKBgE0XXRdQibaRUXkhRBQ9fpcobFv3Q028dkXlnEHVsVu8UufUUrlD\n"
    "qivaqBDpefRSkzRXb1FZBygg9yWWaB22VfIIWEdZd5Luw7NS0ly89ZpSW+5inPGF\n"
    "jdweUq3hjyLox/53zGz/mRarF1CAzUB4EdlIWqfh+y/HdKKS/U4QhE65AoGAN1wv\n"
    "wTvYScWJvh2jtZAB2SrvMs+5VNoOiZrYgcPRmNt+eEuETbmQuGyKnrSEYWLJfTMh\n"
    "tlIuhvFILX1KWu69HGa6LhARyVA0Q2qwKTdUoifPqW8mnA2xIyo6SJ0mU/BX2eFO\n"
    "8flxB3JzItHqfBHUSebMDA8rf8v94pol4/X14okCgYEAvNl26h8LI6YaXxU9E8eS\n"
    "ANFi/tWFN9kiXSyW2jcd3SDVdNovThJLDgeGFn06dK5eFe/VL0UoQNji3ub4jiDd\n"
    "Z7ow5LtB7t9yWpbpa+vUtJdS0pWrQwKomTViTl/Zy+TQRaMQVO/p2R1/0JIyv3bp\n"
    "iGS9oCvTOaR+uu3d/NqG1Eo=\n"
    "-----END PRIVATE KEY-----\n"
    ;
static const char TEST_EC_PEM[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgcMIx2RMQ2i9H4KK/\n"
    "strGSFIraOfn/OzgSddgU1PPqC+hRANCAASN2MiGXrSXKmoqQJFvnAtzxzsa3Uas\n"
    "qY9JDVgWb0/81jjedfhfERC15U/Zc4sOg97ZsCIv+tlIxx0nrR42vWKT\n"
    "-----END PRIVATE KEY-----\n"
    ;

#endif
